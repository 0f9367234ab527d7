// Holder scan on Windows: Restart Manager for who holds what, then the rename probe for files
// RM did not explain. A file the probe cannot move but RM attributes to nobody is reported as a
// holder with pid 0 and name UNATTRIBUTED: something holds it (so `stop` must not call the
// install free), we just cannot say who. Processes we could not open are `unknown`; when RM is
// unavailable or fails, every process is `unknown` (nothing was checked per process).
import type { Holder, ProcessInfo, Snapshot } from '../../types.js';
import { findFileUsers, RestartManagerError } from './restart-manager.js';
import { probeRename, type RenameFs } from './rename-probe.js';
import type { RestartManagerApi } from './winapi.js';
import { walkFiles } from './walk.js';

export const UNATTRIBUTED = '(unattributed: rename probe)';

export interface WinHolderScan {
  holders: Omit<Holder, 'inScope'>[];
  unknown: ProcessInfo[];
  /** Why the Restart Manager part did not run, when it did not. */
  rmError?: string;
}

export interface WinHolderDeps {
  rm: RestartManagerApi | null;
  pathKey(path: string): string;
  listFiles?: (roots: readonly string[]) => string[];
  fs?: RenameFs;
}

export function scanWindowsHolders(roots: readonly string[], snapshot: Snapshot, deps: WinHolderDeps): WinHolderScan {
  const files = (deps.listFiles ?? walkFiles)(roots);
  const byPid = new Map<number, ProcessInfo>();
  for (const p of [...snapshot.processes, ...snapshot.unreadable]) byPid.set(p.pid, p);
  const holders: Omit<Holder, 'inScope'>[] = [];
  const explained = new Set<string>();
  let rmError: string | undefined;
  if (deps.rm && files.length) {
    try {
      for (const hit of findFileUsers(deps.rm, files)) {
        const p = byPid.get(hit.process.pid);
        // The same pid with another creation time is a newer process: RM's answer is about the
        // one it saw, which is still the one holding the file.
        const exe = p && (p.startKey === hit.process.startKey || !p.startKey) ? p.exe : null;
        holders.push({
          pid: hit.process.pid,
          name: p?.name || hit.process.appName || String(hit.process.pid),
          exe,
          path: hit.file,
          kind: exe !== null && deps.pathKey(exe) === deps.pathKey(hit.file) ? 'exe' : 'fd',
        });
        explained.add(deps.pathKey(hit.file));
      }
    } catch (e) {
      rmError = e instanceof RestartManagerError ? e.message : `Restart Manager: ${(e as Error).message}`;
    }
  } else if (!deps.rm) {
    rmError = 'Restart Manager (rstrtmgr.dll) is not available';
  }
  // A running image is held whatever RM says (and RM may be a stub, as under Wine).
  const fileKeys = new Map(files.map((f) => [deps.pathKey(f), f]));
  const reported = new Set(holders.map((h) => `${h.pid}|${deps.pathKey(h.path)}`));
  for (const p of snapshot.processes) {
    const file = p.exe === null ? undefined : fileKeys.get(deps.pathKey(p.exe));
    if (file === undefined || reported.has(`${p.pid}|${deps.pathKey(file)}`)) continue;
    holders.push({ pid: p.pid, name: p.name, exe: p.exe, path: file, kind: 'exe' });
    explained.add(deps.pathKey(file));
  }
  for (const file of files) {
    if (explained.has(deps.pathKey(file))) continue;
    const r = probeRename(file, deps.fs);
    if (r.held) holders.push({ pid: 0, name: UNATTRIBUTED, exe: null, path: file, kind: 'fd' });
  }
  const unknown = rmError !== undefined ? [...snapshot.processes, ...snapshot.unreadable] : [...snapshot.unreadable];
  return { holders, unknown, ...(rmError !== undefined ? { rmError } : {}) };
}
