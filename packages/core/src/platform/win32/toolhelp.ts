import { splitCommandLine } from './cmdline.js';
import { filetimeToMs, msToFiletime } from './filetime.js';
import { assembleSnapshot, type WinSnapshot } from './assemble.js';
import { ERROR_INVALID_PARAMETER, PROCESS_QUERY_LIMITED_INFORMATION, type WinApi } from './winapi.js';

export type NativeSnapshot = WinSnapshot;

interface Read {
  pid: number;
  rawPpid: number;
  name: string;
  creation: bigint | null;
  exe: string | null;
  cmdline: string | null;
  opened: boolean;
}

/**
 * Toolhelp32 for the list, then one OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION) per pid for
 * the exe path, command line and creation time. Processes we may not open (System, protected
 * and other users' service processes without elevation) go to `unreadable`.
 */
export function readNativeSnapshot(api: WinApi, now: () => number = Date.now): NativeSnapshot | null {
  const listedAt = msToFiletime(now());
  const rows = api.listProcesses();
  if (!rows) return null;
  const reads: Read[] = [];
  for (const row of rows) {
    const r: Read = { pid: row.pid, rawPpid: row.ppid, name: row.exeFile, creation: null, exe: null, cmdline: null, opened: false };
    const open =
      row.pid === 0 ? { ok: false as const, error: ERROR_INVALID_PARAMETER } : api.openProcess(row.pid, PROCESS_QUERY_LIMITED_INFORMATION);
    if (open.ok) {
      try {
        r.opened = true;
        r.creation = open.handle.creationTime();
        r.exe = open.handle.imagePath();
        r.cmdline = open.handle.commandLine();
      } finally {
        open.handle.close();
      }
      // The listed process exited and a new one got its pid between the list and the open:
      // the row's name and ppid describe the old one, so leave the newcomer to the next scan.
      if (r.creation !== null && r.creation > listedAt) continue;
    } else if (open.error === ERROR_INVALID_PARAMETER && row.pid !== 0) {
      continue; // exited since the listing
    }
    reads.push(r);
  }
  return assembleSnapshot(
    reads.map((r) => ({
      ...r,
      cmdline: r.cmdline ? splitCommandLine(r.cmdline) : [],
      startKey: r.creation !== null ? r.creation.toString() : '',
      readable: r.opened && r.creation !== null && r.exe !== null,
    })),
    filetimeToMs(listedAt),
  );
}
