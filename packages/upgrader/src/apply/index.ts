import { type ApplyResult, executeApply } from './execute.js';
import { type ApplyOptions, planApply } from './plan.js';

export { type ApplyResult, executeApply } from './execute.js';
export { type ApplyOptions, type ApplyPlan, discardApplyPlan, type PlannedProcess, type PlanStep, planApply } from './plan.js';

/**
 * `apply`: plan (lock → recover → fetch → verify → stage → resolve → moves; slow work before
 * anything is stopped), then execute that plan (stop → swap → post-check → restart → health →
 * commit). A dry run is the plan alone.
 */
export async function apply(opts: ApplyOptions): Promise<ApplyResult> {
  return executeApply(await planApply(opts));
}
