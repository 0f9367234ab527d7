import { EXIT, stop, sweep, type StopOptions, type StopResult } from '@llm-upgrade/core';
import { refusePositionals, resolveCliScope } from '../scope.js';
import { coreEventSink, renderStopSummary } from '../render.js';
import { lockForEnding } from '../install-lock.js';
import type { CommandHandler } from './types.js';

/** stop and sweep differ only in what they end; both map ok:false to exit 3. */
function endingCommand(verb: 'stop' | 'sweep', what: string, run: (opts: StopOptions) => Promise<StopResult>): CommandHandler {
  return async ({ parsed, reporter, signal }) => {
    const { common } = parsed;
    refusePositionals(parsed);
    const scope = await resolveCliScope(common, { requireExisting: !(verb === 'stop' && parsed.values['missing-ok'] === true) });
    // Never race an apply signalling the same engines; a dry run signals nothing and needs no lock.
    const lock = common.dryRun ? null : await lockForEnding(scope.roots, verb, (line) => reporter.line(line, 'warn'));
    try {
      reporter.progress(`${what} under ${scope.roots.join(', ')}`);
      const result = await run({
        ...scope,
        graceMs: common.graceMs,
        timeoutMs: common.timeoutMs,
        dryRun: common.dryRun,
        onEvent: coreEventSink(reporter),
        signal,
      });
      renderStopSummary(result, reporter, verb);
      return { exitCode: result.ok ? EXIT.ok : EXIT.held, result };
    } finally {
      await lock?.release();
    }
  };
}

export const stopCommand = endingCommand('stop', 'stopping everything', stop);
export const sweepCommand = endingCommand('sweep', 'sweeping orphans', sweep);
