import { join } from 'node:path';
import { errors } from '@llm-upgrade/core';
import { lexists, removeTree, walk } from '../fsutil.js';
import type { Manifest } from '../manifest.js';
import { statePaths } from '../paths.js';
import type { FileIdentity } from '../transaction/checks.js';
import type { LockHandle } from '../transaction/lock.js';
import type { Context } from './context.js';
import type { ApplyOptions, ApplyPlan } from './types.js';

/** What the plan holds that is not for printing: the lock, the staged tree, the manifests. */
export interface PlanState {
  opts: ApplyOptions;
  lock: LockHandle | null;
  installed: Manifest | null;
  manifest: Manifest | null;
  /** The staged new tree (in the state directory) the plan's moves install. */
  stageDir: string | null;
  identities: Map<string, FileIdentity>;
  graceMs: number;
  timeoutMs: number;
  healthTimeoutMs: number;
  changed: boolean;
  executed: boolean;
}

const states = new WeakMap<ApplyPlan, PlanState>();

/** Keeps a plan's internals for `executeApply` (or `discardApplyPlan`) to take. */
export function keepPlanState(plan: ApplyPlan, st: PlanState): void {
  states.set(plan, st);
}

/** The plan's internals, once: a plan runs at most one time. */
export function takePlanState(plan: ApplyPlan): PlanState {
  const st = states.get(plan);
  if (!st)
    throw errors.usageError({
      message: 'executeApply needs the plan planApply returned (a plan read back from JSON holds no staged files or lock)',
      hint: 'Call planApply and pass its result unchanged.',
      phase: 'usage',
      changed: false,
    });
  if (st.executed)
    throw errors.usageError({
      message: `this plan for ${plan.root} was executed already`,
      hint: 'Plan again.',
      phase: 'usage',
      changed: false,
    });
  st.executed = true;
  return st;
}

/** Gives up a plan that will not be executed (the question was answered no): staging goes, the lock is released. */
export async function discardApplyPlan(plan: ApplyPlan): Promise<void> {
  const st = states.get(plan);
  if (!st || st.executed) return;
  st.executed = true;
  await cleanUpUnexecuted(plan.root, st.stageDir);
  await st.lock?.release();
}

/** Staging and downloads of a plan that never reached the swap; a kept journal keeps staging for recover. */
export async function cleanUpUnexecuted(root: string, stageDir: string | null): Promise<void> {
  const paths = statePaths(root);
  // Keep a partial download for the next run to resume; a complete one is not trusted again.
  for (const f of await walk(paths.downloads).catch(() => []))
    if (f.kind === 'file' && !f.path.endsWith('.part')) await removeTree(join(paths.downloads, f.path)).catch(() => undefined);
  if ((await walk(paths.downloads).catch(() => [])).length === 0) await removeTree(paths.downloads).catch(() => undefined);
  if (!(await lexists(paths.journal).catch(() => true))) {
    await removeTree(paths.staging).catch(() => undefined);
    if (stageDir) await removeTree(stageDir).catch(() => undefined);
  }
}

export function stateOf(
  c: Context,
  installed: Manifest | null,
  manifest: Manifest | null,
  stageDir: string | null,
  identities: Map<string, FileIdentity>,
): PlanState {
  return {
    opts: c.opts,
    lock: c.lock,
    installed,
    manifest,
    stageDir,
    identities,
    graceMs: c.graceMs,
    timeoutMs: c.timeoutMs,
    healthTimeoutMs: c.healthTimeoutMs,
    changed: c.changed,
    executed: false,
  };
}
