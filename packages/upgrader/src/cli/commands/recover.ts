import { EXIT } from '@llm-upgrade/core';
import { recover } from '../../recover.js';
import { resolveCliScope } from '../scope.js';
import type { CommandHandler } from './types.js';
import { upgradeEventSink } from './upgrade-events.js';

export const recoverCommand: CommandHandler = async ({ parsed, reporter, signal }) => {
  const { common } = parsed;
  const scope = await resolveCliScope(common);
  const result = await recover({ roots: scope.roots, profile: scope.profile, graceMs: common.graceMs, timeoutMs: common.timeoutMs, onEvent: upgradeEventSink(reporter), signal });
  if (result.thawed.length) reporter.line(`continued ${result.thawed.length} frozen process(es): ${result.thawed.join(', ')}`, 'warn');
  reporter.line(result.action === 'nothing' ? 'no interrupted upgrade to recover' : `recovered: ${result.action} (${result.from ?? '?'} → ${result.to ?? '?'}, ${result.movesUndone} move(s) undone${result.restarted ? `, started again: ${result.restarted}` : ''})`);
  return { exitCode: EXIT.ok, result };
};
