// Which processes hold which files, through the Restart Manager (rstrtmgr.dll). RM answers per
// session ("these processes use some of these files"), so files go in batches of at most 1000 and
// a batch that has users is split in halves until each user is pinned to a file, within a call
// budget. RM cannot say whether a file is open or mapped: a process whose image is the file is
// an `exe` holder, anything else `fd`.
import { ERROR_MORE_DATA, ERROR_SUCCESS, type RestartManagerApi, type RmProcessInfo } from './winapi.js';

export const RM_BATCH_FILES = 1000;
const GETLIST_ATTEMPTS = 5;
/** RmGetList sessions spent attributing users to single files, per scan. */
const ATTRIBUTION_BUDGET = 400;
/** Wine 8's rstrtmgr is a stub: RmStartSession hands out this session and RmGetList finds nothing. */
export const WINE_STUB_SESSION = 0xdeadbeef;

export class RestartManagerError extends Error {
  constructor(
    readonly call: string,
    readonly win32Error: number,
    message = `${call} failed with Win32 error ${win32Error}`,
  ) {
    super(message);
  }
}

/** One session over `files`: start, register, RmGetList (growing the array on ERROR_MORE_DATA), end. */
export function usersOf(rm: RestartManagerApi, files: readonly string[]): RmProcessInfo[] {
  const start = rm.startSession();
  if (start.error !== ERROR_SUCCESS) throw new RestartManagerError('RmStartSession', start.error);
  try {
    if (start.session === WINE_STUB_SESSION)
      throw new RestartManagerError(
        'RmStartSession',
        start.error,
        'Restart Manager is a stub here (Wine): it reports no process for any file',
      );
    const reg = rm.registerFiles(start.session, files);
    if (reg !== ERROR_SUCCESS) throw new RestartManagerError('RmRegisterResources', reg);
    let capacity = 16;
    for (let attempt = 0; attempt < GETLIST_ATTEMPTS; attempt++) {
      const r = rm.getList(start.session, capacity);
      if (r.error === ERROR_SUCCESS) return r.processes;
      if (r.error !== ERROR_MORE_DATA) throw new RestartManagerError('RmGetList', r.error);
      // The list can grow between the two calls; leave headroom.
      capacity = Math.max(r.needed + 8, capacity * 2);
    }
    throw new RestartManagerError('RmGetList', ERROR_MORE_DATA);
  } finally {
    rm.endSession(start.session);
  }
}

export interface RmHit {
  process: RmProcessInfo;
  file: string;
}

function key(p: RmProcessInfo): string {
  return `${p.pid}:${p.startKey}`;
}

/**
 * Every (process, file) pair RM reports under `files`. When the attribution budget runs out,
 * the remaining processes are reported against the first file of the smallest group that still
 * contains what they hold (an honest "somewhere in here", never dropped).
 */
export function findFileUsers(rm: RestartManagerApi, files: readonly string[]): RmHit[] {
  const hits: RmHit[] = [];
  let budget = ATTRIBUTION_BUDGET;
  const seen = new Set<string>();
  const add = (process: RmProcessInfo, file: string) => {
    const k = `${key(process)}|${file}`;
    if (!seen.has(k)) {
      seen.add(k);
      hits.push({ process, file });
    }
  };
  const narrow = (group: readonly string[], users: RmProcessInfo[]) => {
    if (group.length === 1 || budget <= 0) {
      for (const u of users) add(u, group[0] as string);
      return;
    }
    const mid = Math.ceil(group.length / 2);
    for (const half of [group.slice(0, mid), group.slice(mid)]) {
      budget--;
      const found = usersOf(rm, half);
      const wanted = new Set(users.map(key));
      const relevant = found.filter((p) => wanted.has(key(p)));
      if (relevant.length) narrow(half, relevant);
    }
  };
  for (let i = 0; i < files.length; i += RM_BATCH_FILES) {
    const batch = files.slice(i, i + RM_BATCH_FILES);
    const users = usersOf(rm, batch);
    if (users.length) narrow(batch, users);
  }
  return hits;
}
