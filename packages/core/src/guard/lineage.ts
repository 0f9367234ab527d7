import type { LineageEntry } from './types.js';

/**
 * Everything descended from one process (the wrapper), by identity. A process belongs when its
 * parent is the root or a known identity that started no later than it did, so a stale parent
 * pid (Windows never reparents) reused by a stranger does not pull the stranger's children in.
 * Dead members stay known while their pid is not reused: their orphans still point at them.
 */
export class Lineage {
  private readonly known = new Map<number, LineageEntry>();

  constructor(
    private readonly rootPid: number,
    private readonly exclude: ReadonlySet<number> = new Set(),
  ) {}

  /** Folds in a scan; returns the members seen for the first time. */
  update(entries: readonly LineageEntry[]): LineageEntry[] {
    const byPid = new Map(entries.map((e) => [e.pid, e]));
    for (const [pid, k] of this.known) {
      const now = byPid.get(pid);
      if (now && now.startKey !== k.startKey)
        this.known.delete(pid); // pid reused
      else if (now) this.known.set(pid, now);
    }
    const added: LineageEntry[] = [];
    const pending = entries.filter(
      (e) => e.pid !== this.rootPid && !this.exclude.has(e.pid) && this.known.get(e.pid)?.startKey !== e.startKey,
    );
    for (let grew = true; grew; ) {
      grew = false;
      for (const e of pending) {
        if (this.known.has(e.pid)) continue;
        const parent = this.known.get(e.ppid);
        if (e.ppid === this.rootPid || (parent !== undefined && parent.pid !== e.pid && parent.startTime <= e.startTime)) {
          this.known.set(e.pid, e);
          added.push(e);
          grew = true;
        }
      }
    }
    return added;
  }

  /** Members alive in this scan (zombies are gone). */
  liveIn(entries: readonly LineageEntry[]): LineageEntry[] {
    return entries.filter((e) => e.live && this.known.get(e.pid)?.startKey === e.startKey);
  }

  /** Zombie members whose parent is the root: ours to reap. */
  zombieChildrenIn(entries: readonly LineageEntry[]): number[] {
    return entries.filter((e) => !e.live && e.ppid === this.rootPid && this.known.get(e.pid)?.startKey === e.startKey).map((e) => e.pid);
  }

  has(e: Pick<LineageEntry, 'pid' | 'startKey'>): boolean {
    return this.known.get(e.pid)?.startKey === e.startKey;
  }

  /** Forgets members that no longer exist at all (keeps the map small in a long run). */
  prune(entries: readonly LineageEntry[]): void {
    const present = new Set(entries.map((e) => e.pid));
    const parents = new Set(entries.map((e) => e.ppid));
    for (const pid of this.known.keys()) if (!present.has(pid) && !parents.has(pid)) this.known.delete(pid);
  }
}
