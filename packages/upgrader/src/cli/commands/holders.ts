import { EXIT, scanHolders } from '@llm-upgrade/core';
import { refusePositionals, resolveCliScope } from '../scope.js';
import { coreEventSink, renderHolder, unreadableAdvice } from '../render.js';
import type { CommandHandler } from './types.js';

export const holdersCommand: CommandHandler = async ({ parsed, reporter }) => {
  refusePositionals(parsed);
  const scope = await resolveCliScope(parsed.common, { requireExisting: true });
  const report = await scanHolders({ ...scope, onEvent: coreEventSink(reporter) });
  if (report.clean) reporter.line(`no process holds a file under ${scope.roots.join(', ')}`);
  for (const h of report.holders) reporter.line(renderHolder(h));
  if (!report.complete)
    reporter.line(`${report.unknown.length} process(es) could not be read; the result is incomplete (${unreadableAdvice()})`, 'warn');
  // ok: the scan ran (holders found or not), like every other command's document.
  return { exitCode: EXIT.ok, result: { ok: true, ...report } };
};
