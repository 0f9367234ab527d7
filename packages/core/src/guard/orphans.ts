import type { ProcessInfo, ScopedProcess } from '../types.js';

/** Where each identity was first seen: its parent pid and that parent's start key. */
export type ParentHistory = Map<string, { ppid: number; parentKey: string | null }>;

const key = (p: Pick<ProcessInfo, 'pid' | 'startKey'>) => `${p.pid}:${p.startKey}`;

/** Records the parent of every identity seen for the first time; forgets identities that are gone. */
export function recordParents(history: ParentHistory, processes: readonly ProcessInfo[]): void {
  const byPid = new Map(processes.map((p) => [p.pid, p]));
  const seen = new Set<string>();
  for (const p of processes) {
    const k = key(p);
    seen.add(k);
    if (!history.has(k)) history.set(k, { ppid: p.ppid, parentKey: byPid.get(p.ppid)?.startKey ?? null });
  }
  for (const k of history.keys()) if (!seen.has(k)) history.delete(k);
}

/**
 * The parent is gone: the process was reparented — to PID 1 of its namespace, to a parent that
 * started after it (a subreaper it could not have been forked by), or away from the parent it
 * had when we first saw it. A live shell or any other program as parent is not "gone".
 */
export function parentGone(p: ProcessInfo, byPid: ReadonlyMap<number, ProcessInfo>, history: ParentHistory): boolean {
  if (p.ppid <= 1) return true;
  const parent = byPid.get(p.ppid);
  if (!parent || parent.state === 'Z') return true;
  if (parent.startTime > p.startTime) return true;
  const first = history.get(key(p));
  return first !== undefined && (first.ppid !== p.ppid || (first.parentKey !== null && first.parentKey !== parent.startKey));
}

/**
 * Splits classify()'s orphans into those whose parent is really gone (to end) and those with a
 * live parent outside the install, e.g. an engine started from a shell (to leave alone). Once
 * classify's orphan flag means "parent gone" the second list is always empty.
 */
export function splitOrphans(all: readonly ScopedProcess[], history: ParentHistory): { gone: ScopedProcess[]; parented: ScopedProcess[] } {
  const byPid = new Map(all.map((p) => [p.pid, p]));
  const gone: ScopedProcess[] = [];
  const parented: ScopedProcess[] = [];
  for (const p of all) {
    if (!p.orphan) continue;
    (parentGone(p, byPid, history) ? gone : parented).push(p);
  }
  return { gone, parented };
}
