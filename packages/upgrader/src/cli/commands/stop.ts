import { EXIT, stop, sweep, type StopOptions, type StopResult } from '@llm-upgrade/core';
import { resolveCliScope } from '../scope.js';
import { coreEventSink, renderStopSummary } from '../render.js';
import type { CommandHandler } from './types.js';

/** stop and sweep differ only in what they end; both map ok:false to exit 3. */
function endingCommand(verb: 'stop' | 'sweep', what: string, run: (opts: StopOptions) => Promise<StopResult>): CommandHandler {
  return async ({ parsed, reporter }) => {
    const { common } = parsed;
    const scope = await resolveCliScope(common);
    reporter.progress(`${what} under ${scope.roots.join(', ')}`);
    const result = await run({ ...scope, graceMs: common.graceMs, timeoutMs: common.timeoutMs, dryRun: common.dryRun, onEvent: coreEventSink(reporter) });
    renderStopSummary(result, reporter, verb);
    return { exitCode: result.ok ? EXIT.ok : EXIT.held, result };
  };
}

export const stopCommand = endingCommand('stop', 'stopping everything', stop);
export const sweepCommand = endingCommand('sweep', 'sweeping orphans', sweep);
