import { EXIT } from '@llm-upgrade/core';
import { rollback } from '../../rollback.js';
import { resolveCliScope } from '../scope.js';
import type { CommandHandler } from './types.js';
import { upgradeEventSink } from './upgrade-events.js';

export const rollbackCommand: CommandHandler = async ({ parsed, reporter, signal }) => {
  const { common, values } = parsed;
  const scope = await resolveCliScope(common, { requireExisting: true });
  const result = await rollback({
    roots: scope.roots,
    profile: scope.profile,
    restart: values['no-restart'] !== true,
    graceMs: common.graceMs,
    timeoutMs: common.timeoutMs,
    onEvent: upgradeEventSink(reporter),
    toEmpty: values['to-empty'] === true,
    signal,
  });
  reporter.line(
    `rolled back ${scope.roots[0]}: ${result.from ?? 'unknown version'} → ${result.to ?? 'the previous files'} (downtime ${result.downtimeMs} ms)`,
  );
  return { exitCode: EXIT.ok, result };
};
