import type { ProcessInfo, Snapshot } from '../../types.js';
import { filetimeToMs } from './filetime.js';
import { resolveParents } from './parents.js';

/** One process as a Windows discovery source read it (Toolhelp32 + OpenProcess, or CIM). */
export interface WinProcessRead {
  pid: number;
  /** The parent pid Windows reports (stale after the parent died; maybe reused). */
  rawPpid: number;
  name: string;
  exe: string | null;
  cmdline: string[];
  /** Creation time as a FILETIME; null when it could not be read. */
  creation: bigint | null;
  /** The identity token for this source ('' when the creation time is unknown). */
  startKey: string;
  /** Exe and creation time were read: the process can be placed in or out of scope. */
  readable: boolean;
}

export interface WinSnapshot {
  snapshot: Snapshot;
  /** Parent pids as Windows reports them (taskkill /T follows these). */
  rawPpid: Map<number, number>;
}

/** Live parents (a stale or reused parent pid becomes 0) and the readable/unreadable split. */
export function assembleSnapshot(reads: readonly WinProcessRead[], takenAt: number): WinSnapshot {
  const ppids = resolveParents(reads.map((r) => ({ pid: r.pid, rawPpid: r.rawPpid, creation: r.creation })));
  const processes: ProcessInfo[] = [];
  const unreadable: ProcessInfo[] = [];
  const rawPpid = new Map<number, number>();
  for (const r of reads) {
    rawPpid.set(r.pid, r.rawPpid);
    const info: ProcessInfo = {
      pid: r.pid,
      ppid: ppids.get(r.pid) ?? 0,
      name: r.name,
      exe: r.exe,
      cmdline: r.cmdline,
      startTime: r.creation !== null ? filetimeToMs(r.creation) : 0,
      startKey: r.startKey,
      user: null,
    };
    (r.readable ? processes : unreadable).push(info);
  }
  return { snapshot: { processes, unreadable, takenAt }, rawPpid };
}
