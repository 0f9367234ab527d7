import type { ScopedProcess } from '../types.js';
import type { LineageEntry } from './types.js';

/** A guarded descendant in the shape the backends' requestExit/forceKill take. */
export function asScoped(e: LineageEntry): ScopedProcess {
  return {
    pid: e.pid,
    ppid: e.ppid,
    name: e.name,
    exe: null,
    cmdline: [],
    startTime: e.startTime,
    startKey: e.startKey,
    user: null,
    state: e.live ? 'R' : 'Z',
    role: 'other',
    inScope: true,
    orphan: false,
    reason: 'descendant',
  };
}

/** Our pid and its ancestors in a scan: never signalled. */
export function selfAndAncestorPids(entries: readonly Pick<LineageEntry, 'pid' | 'ppid'>[], selfPid: number = process.pid): Set<number> {
  const parentOf = new Map(entries.map((e) => [e.pid, e.ppid]));
  const out = new Set<number>();
  for (let pid: number | undefined = selfPid; pid !== undefined && pid > 0 && !out.has(pid); pid = parentOf.get(pid)) out.add(pid);
  return out;
}
