/** Targets whose (live, effective) parent is not itself a target: where taskkill /T starts. */
export function forestRoots<T extends { pid: number; ppid: number }>(targets: readonly T[]): T[] {
  const pids = new Set(targets.map((t) => t.pid));
  return targets.filter((t) => t.ppid === 0 || t.ppid === t.pid || !pids.has(t.ppid));
}

/** Every pid taskkill /T would reach from root, following the raw th32ParentProcessID links. */
export function rawDescendants(root: number, rawPpid: ReadonlyMap<number, number>): Set<number> {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of rawPpid) {
    if (pid === ppid) continue;
    const list = children.get(ppid);
    if (list) list.push(pid);
    else children.set(ppid, [pid]);
  }
  const seen = new Set<number>([root]);
  const queue = [root];
  while (queue.length) {
    const pid = queue.pop() as number;
    for (const child of children.get(pid) ?? []) {
      if (!seen.has(child)) {
        seen.add(child);
        queue.push(child);
      }
    }
  }
  seen.delete(root);
  return seen;
}

/**
 * taskkill /T follows raw parent links, which may point at a reused pid: a process started
 * before our root, by a parent that has since died, looks like the root's child. /T is only
 * used when everything it would reach is a target and nothing protected (our own process, our
 * ancestors) is among them; otherwise each target is ended on its own.
 */
export function treeIsSafe(
  root: number,
  rawPpid: ReadonlyMap<number, number>,
  targets: ReadonlySet<number>,
  protectedPids: ReadonlySet<number>,
): boolean {
  if (protectedPids.has(root)) return false;
  for (const pid of rawDescendants(root, rawPpid)) {
    if (!targets.has(pid) || protectedPids.has(pid)) return false;
  }
  return true;
}
