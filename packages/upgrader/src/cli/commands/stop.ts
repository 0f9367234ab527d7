import { EXIT, stop, sweep, type StopOptions, type StopResult } from '@llm-upgrade/core';
import { resolveCliScope } from '../scope.js';
import { confirmOrAbort } from '../confirm.js';
import { coreEventSink, renderStopSummary, stopError, stopPlanLines } from '../render.js';
import type { CommandHandler } from './types.js';

/** stop and sweep differ only in what they end; both map ok:false to exit 3. */
function endingCommand(verb: 'stop' | 'sweep', what: string, run: (opts: StopOptions) => Promise<StopResult>): CommandHandler {
  return async ({ parsed, reporter }) => {
    const { common } = parsed;
    const scope = await resolveCliScope(common);
    reporter.progress(`${what} under ${scope.roots.join(', ')}`);
    if (reporter.interactive) {
      // The real run plans afresh; asking about this plan is asking about what it will find.
      const plan = await run({ ...scope, graceMs: common.graceMs, timeoutMs: common.timeoutMs, dryRun: true });
      if (plan.plan.length || plan.services.length) await confirmOrAbort(reporter, stopPlanLines(plan, verb));
    }
    const result = await run({ ...scope, graceMs: common.graceMs, timeoutMs: common.timeoutMs, dryRun: common.dryRun, onEvent: coreEventSink(reporter) });
    renderStopSummary(result, reporter, verb);
    return { exitCode: result.ok ? EXIT.ok : EXIT.held, result, ...(result.ok ? {} : { error: stopError(result, verb) }) };
  };
}

export const stopCommand = endingCommand('stop', 'stopping everything', stop);
export const sweepCommand = endingCommand('sweep', 'sweeping orphans', sweep);
