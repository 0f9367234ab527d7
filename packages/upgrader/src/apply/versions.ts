import semver from 'semver';
import { type ErrorDetails, LlmUpgradeError } from '@llm-upgrade/core';

function downgradeError(message: string, details: ErrorDetails<'ERR_DOWNGRADE'>): LlmUpgradeError {
  return new LlmUpgradeError({
    code: 'ERR_DOWNGRADE',
    message,
    hint: 'Pass --allow-downgrade to install an older version.',
    phase: 'resolve',
    changed: false,
    details,
  });
}

export function checkVersions(
  from: string | null,
  to: string,
  allowDowngrade: boolean | undefined,
  older: () => string,
): 'noop' | 'downgrade' | 'upgrade' {
  if (from && semver.eq(from, to)) return 'noop';
  if (from && semver.lt(to, from)) {
    if (!allowDowngrade) throw downgradeError(older(), { from, to });
    return 'downgrade';
  }
  return 'upgrade';
}
