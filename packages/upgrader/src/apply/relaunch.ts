import { inScopeAncestor, RELAUNCH_ENV, waitForRelaunchParent } from '../self-relaunch.js';
import { type Context, emptyPlan } from './context.js';
import { installedManifest } from './manifests.js';
import { keepPlanState, stateOf } from './state.js';
import type { ApplyPlan } from './types.js';

/**
 * The app updating itself: an ancestor of ours is part of the install and would be stopped with
 * it. The relaunched upgrader waits for that ancestor to exit and plans afresh.
 */
export async function relaunchStep(c: Context): Promise<ApplyPlan | null> {
  if (c.dryRun) return null;
  if (process.env[RELAUNCH_ENV]) {
    if (!(await waitForRelaunchParent(process.env, c.timeoutMs)))
      c.warnings.push(
        `the process that started this upgrade is still running after ${c.timeoutMs} ms; it will be stopped with the install`,
      );
    return null;
  }
  if (!c.opts.relaunchArgs) return null;
  const ancestor = await inScopeAncestor(c.roots);
  if (!ancestor) return null;
  const installed = await installedManifest(c.root);
  const plan = emptyPlan(c, {
    sourceKind: 'package',
    source: c.opts.source ?? c.opts.feedUrl ?? (c.opts.archives ?? []).join(' + '),
    from: installed?.version ?? null,
    to: null,
    relaunch: { pid: ancestor.pid, startKey: ancestor.startKey, name: ancestor.name, exe: ancestor.exe },
    steps: { done: [], remaining: ['relaunch detached', 'wait for the ancestor to exit', 'plan afresh'] },
  });
  keepPlanState(plan, stateOf(c, installed, null, null, new Map()));
  return plan;
}
