import { type ApplyResult, executeApply } from './execute.js';
import { planApply } from './plan.js';
import type { ApplyOptions } from './types.js';

export { type ApplyResult, executeApply } from './execute.js';
export { planApply } from './plan.js';
export { discardApplyPlan } from './state.js';
export type { ApplyOptions, ApplyPlan, PlannedProcess, PlanStep } from './types.js';

/**
 * `apply`: plan (lock → recover → fetch → verify → stage → resolve → moves; slow work before
 * anything is stopped), then execute that plan (stop → swap → post-check → restart → health →
 * commit). A dry run is the plan alone.
 */
export async function apply(opts: ApplyOptions): Promise<ApplyResult> {
  return executeApply(await planApply(opts));
}
