import { EXIT } from '@llm-upgrade/core';
import { recover, type RecoverResult } from '../../recover.js';
import { resolveCliScope } from '../scope.js';
import type { CommandHandler } from './types.js';
import { upgradeEventSink } from './upgrade-events.js';

export const recoverCommand: CommandHandler = async ({ parsed, reporter, signal }) => {
  const { common } = parsed;
  const scope = await resolveCliScope(common, { requireExisting: true });
  const result = await recover({
    roots: scope.roots,
    profile: scope.profile,
    graceMs: common.graceMs,
    timeoutMs: common.timeoutMs,
    onEvent: upgradeEventSink(reporter),
    signal,
  });
  if (result.thawed.length) reporter.line(`continued ${result.thawed.length} frozen process(es): ${result.thawed.join(', ')}`, 'warn');
  reporter.line(recoveredLine(result));
  return { exitCode: EXIT.ok, result };
};

/** `rolled-back (3.0.0 → 4.0.0)` read as an upgrade to 4.0.0; say which way it went. */
export function recoveredLine(r: Pick<RecoverResult, 'action' | 'from' | 'to' | 'movesUndone' | 'restarted'>): string {
  if (r.action === 'nothing') return 'no interrupted upgrade to recover';
  if (r.action === 'committed')
    return `rolled forward to ${r.to ?? 'the new version'} (the interrupted upgrade had committed; its last steps are done)`;
  return `rolled back to ${r.from ?? 'the previous version'} (the interrupted upgrade to ${r.to ?? 'the new version'} was undone; ${r.movesUndone} move(s) reversed${r.restarted ? `, started again: ${r.restarted}` : ''})`;
}
