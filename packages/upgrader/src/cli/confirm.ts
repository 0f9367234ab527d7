import { LlmUpgradeError } from '@llm-upgrade/core';
import type { Reporter } from './reporter.js';

export function abortedError(): LlmUpgradeError {
  return new LlmUpgradeError({ code: 'ERR_ABORTED', message: 'aborted: nothing was changed', hint: 'Run the command again and answer y, or pass --yes to skip the question.', phase: 'usage', changed: false });
}

/**
 * On a terminal (and without --yes or --dry-run): show what the command will do on stderr and
 * ask, default no. Off a terminal it returns at once, so scripts and custom actions run as before.
 */
export async function confirmOrAbort(reporter: Reporter, plan: string[], question = 'Proceed?'): Promise<void> {
  if (!reporter.interactive) return;
  for (const line of plan) reporter.note(line);
  if (!(await reporter.confirm(question))) throw abortedError();
}

/**
 * Runs `run(opts)` for real after showing its own dry run and asking (on a terminal only). The
 * library plans again when it runs; what it does is what the dry run showed unless the install
 * changed in between.
 */
export async function previewThen<O extends { dryRun?: boolean }, R>(reporter: Reporter, run: (opts: O) => Promise<R>, opts: O, describe: (preview: R) => string[] | null): Promise<R> {
  if (reporter.interactive && !opts.dryRun) {
    const plan = describe(await run({ ...opts, dryRun: true }));
    if (plan) await confirmOrAbort(reporter, plan);
  }
  return run(opts);
}
