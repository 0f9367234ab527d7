/**
 * Windows never updates th32ParentProcessID: when a parent exits, its children keep the dead
 * pid, and Windows may hand that pid to a new, unrelated process. A process cannot be created
 * before its parent, so a "parent" whose creation time is later than the child's is a reused
 * pid, not the parent. We report ppid as the live parent's pid, or 0 when the parent is dead or
 * the pid was reused (the process is then a root; in scope, an orphan). The raw value is kept
 * separately because taskkill /T walks the raw values (see terminate.ts).
 */
export interface ParentInput {
  pid: number;
  rawPpid: number;
  /** Creation FILETIME, or null when it could not be read. */
  creation: bigint | null;
}

export function resolveParents(rows: readonly ParentInput[]): Map<number, number> {
  const byPid = new Map(rows.map((r) => [r.pid, r]));
  const out = new Map<number, number>();
  for (const r of rows) {
    const parent = r.rawPpid === r.pid ? undefined : byPid.get(r.rawPpid);
    if (!parent) {
      out.set(r.pid, 0);
      continue;
    }
    // Unknown creation times (protected processes) cannot be checked; such parents are never
    // in scope (their exe is unreadable), so keeping the raw link cannot pull anything in.
    const reused = parent.creation !== null && r.creation !== null && parent.creation > r.creation;
    out.set(r.pid, reused ? 0 : r.rawPpid);
  }
  return out;
}
