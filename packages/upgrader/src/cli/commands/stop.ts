import { EXIT, stop, sweep } from '@llm-upgrade/core';
import { resolveCliScope } from '../scope.js';
import { coreEventSink, renderStopSummary } from '../render.js';
import type { CommandHandler } from './types.js';

export const stopCommand: CommandHandler = async ({ parsed, reporter }) => {
  const { common } = parsed;
  const scope = await resolveCliScope(common);
  reporter.progress(`stopping everything under ${scope.roots.join(', ')}`);
  const result = await stop({ ...scope, graceMs: common.graceMs, timeoutMs: common.timeoutMs, dryRun: common.dryRun, onEvent: coreEventSink(reporter) });
  renderStopSummary(result, reporter, 'stop');
  return { exitCode: result.ok ? EXIT.ok : EXIT.held, result };
};

export const sweepCommand: CommandHandler = async ({ parsed, reporter }) => {
  const { common } = parsed;
  const scope = await resolveCliScope(common);
  reporter.progress(`sweeping orphans under ${scope.roots.join(', ')}`);
  const result = await sweep({ ...scope, graceMs: common.graceMs, timeoutMs: common.timeoutMs, dryRun: common.dryRun, onEvent: coreEventSink(reporter) });
  renderStopSummary(result, reporter, 'sweep');
  return { exitCode: result.ok ? EXIT.ok : EXIT.held, result };
};
