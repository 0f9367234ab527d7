import { getBackend } from './platform/index.js';
import { resolveRoots, withAliases } from './roots.js';
import { inScopePids } from './scope.js';
import type { Holder, HolderOptions, HolderReport, ProcessInfo, ScopedProcess } from './types.js';

/** Marks each holder in scope or foreign, from the same snapshot's classification (or its in-scope pids). */
export function markHolders(raw: readonly Omit<Holder, 'inScope'>[], scoped: readonly ScopedProcess[] | ReadonlySet<number>): Holder[] {
  const inScope = scoped instanceof Set ? scoped : new Set((scoped as readonly ScopedProcess[]).filter((p) => p.inScope).map((p) => p.pid));
  return raw.map((h) => ({ ...h, inScope: inScope.has(h.pid) }));
}

/**
 * Every process holding a file under a root (exe, open fd, memory map, cwd, root), marked in
 * scope or foreign. Processes that could not be read are listed under `unknown` and make the
 * report incomplete: never a silent "clean".
 */
export async function scanHolders(opts: HolderOptions): Promise<HolderReport> {
  const backend = await getBackend();
  const roots = resolveRoots(opts.roots, 'holders');
  const matchRoots = withAliases(roots, backend);
  const snap = await backend.snapshot();
  // Scope only (not roles, which read command lines): holders are marked in scope or foreign.
  const scoped = inScopePids(snap, matchRoots, (p) => backend.pathKey(p));
  const found = await backend.scanHolders(matchRoots, snap);
  const holders = markHolders(found.holders, scoped);
  const unknown = mergeUnknown(snap.unreadable, found.unknown);
  opts.onEvent?.({ type: 'holders', holders: holders.length, unknown: unknown.length, attempt: 1 });
  return {
    clean: holders.length === 0,
    complete: unknown.length === 0 && !snap.hidden,
    holders,
    unknown,
    ...(snap.hidden ? { hidden: snap.hidden } : {}),
  };
}

/** Unknown processes from the snapshot and the holder scan, once each. */
export function mergeUnknown(a: readonly ProcessInfo[], b: readonly ProcessInfo[]): ProcessInfo[] {
  const out = new Map<number, ProcessInfo>();
  for (const p of [...a, ...b]) if (!out.has(p.pid)) out.set(p.pid, p);
  return [...out.values()];
}
