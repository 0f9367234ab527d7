import { markHolders, mergeUnknown } from './holders.js';
import { getBackend } from './platform/index.js';
import { ollamaProfile } from './profile.js';
import { resolveRoots, withAliases } from './roots.js';
import { classify } from './scope.js';
import type { EventSink, ScopeOptions, StatusReport } from './types.js';

/** The install's process forest, orphans, holders and GPU memory, from one snapshot. Changes nothing. */
export async function status(opts: ScopeOptions & { onEvent?: EventSink }): Promise<StatusReport> {
  const backend = await getBackend();
  const roots = resolveRoots(opts.roots, 'status');
  const matchRoots = withAliases(roots, backend);
  const snap = await backend.snapshot();
  const scoped = classify(snap, matchRoots, opts.profile ?? ollamaProfile, (p) => backend.pathKey(p));
  const processes = scoped.filter((p) => p.inScope);
  const orphans = processes.filter((p) => p.orphan);
  opts.onEvent?.({ type: 'snapshot', processes: snap.processes.length, inScope: processes.length, orphans: orphans.length });
  const found = await backend.scanHolders(matchRoots, snap);
  const holders = markHolders(found.holders, scoped);
  const unknown = mergeUnknown(snap.unreadable, found.unknown);
  const pids = new Set(processes.map((p) => p.pid));
  const gpu = (await backend.gpuUsage()).filter((g) => pids.has(g.pid));
  return {
    roots,
    processes,
    orphans,
    holders: {
      clean: holders.length === 0,
      complete: unknown.length === 0 && !snap.hidden,
      holders,
      unknown,
      ...(snap.hidden ? { hidden: snap.hidden } : {}),
    },
    gpu,
  };
}
