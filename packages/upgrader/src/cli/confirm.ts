import { type LlmUpgradeError, errors } from '@llm-upgrade/core';
import type { Reporter } from './reporter.js';

export function abortedError(): LlmUpgradeError {
  return errors.abortedError({
    message: 'aborted: nothing was changed',
    hint: 'Run the command again and answer y, or pass --yes to skip the question.',
    phase: 'usage',
    changed: false,
  });
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
