import { EXIT, type StopResult } from '@llm-upgrade/core';
import { confirmOrAbort } from '../confirm.js';
import { stopError, stopPlanLines } from '../render.js';
import { Reporter } from '../reporter.js';
import { resolveCliScope } from '../scope.js';
import { rollbackPreviewLines } from './preview.js';
import type { CommandContext, CommandHandler } from './types.js';

/** The commands that end processes or replace files. */
export type GuardedCommand = 'stop' | 'sweep' | 'rollback';

/** The command as its own dry run, saying nothing: what it would do, for the question. */
async function silentDryRun(handler: CommandHandler, ctx: CommandContext): Promise<object> {
  const { Writable } = await import('node:stream'); // only when a question is asked
  const nowhere = () => new Writable({ write: (_chunk, _enc, done) => done() });
  const reporter = new Reporter({
    json: true,
    quiet: true,
    logFile: undefined,
    stdout: nowhere(),
    stderr: nowhere(),
    env: {},
    command: ctx.parsed.command,
  });
  const parsed = { ...ctx.parsed, common: { ...ctx.parsed.common, dryRun: true } };
  return (await handler({ ...ctx, parsed, reporter })).result;
}

const isStopResult = (r: object): r is StopResult => Array.isArray((r as StopResult).survivors) && Array.isArray((r as StopResult).holders);

/** What the command will do, as lines for the question; null when there is nothing to ask about. */
async function planFor(command: GuardedCommand, handler: CommandHandler, ctx: CommandContext): Promise<string[] | null> {
  if (command === 'rollback') {
    // rollback has no dry run; the versions come from the state directory.
    const scope = await resolveCliScope(ctx.parsed.common);
    return rollbackPreviewLines(scope.roots, scope.profile);
  }
  const r = (await silentDryRun(handler, ctx)) as StopResult;
  return r.plan.length || r.services.length ? stopPlanLines(r, command) : null;
}

/**
 * Wraps stop, sweep and rollback: on a terminal (no --yes, no --dry-run) show the command's own
 * dry run and ask, default no; the real run plans afresh, which for a stop is what it finds then.
 * (apply asks itself: it shows the plan from `planApply` and executes that same plan.) stop/sweep's exit 3 gets its error (ERR_SURVIVORS / ERR_FILES_HELD) here.
 */
export function guarded(command: GuardedCommand, handler: CommandHandler): CommandHandler {
  return async (ctx) => {
    if (ctx.reporter.interactive) {
      ctx.reporter.progress('working out what will change');
      const plan = await planFor(command, handler, ctx);
      if (plan) await confirmOrAbort(ctx.reporter, plan);
    }
    const outcome = await handler(ctx);
    if ((command === 'stop' || command === 'sweep') && outcome.exitCode === EXIT.held && isStopResult(outcome.result)) {
      return { ...outcome, result: { ...outcome.result, error: stopError(outcome.result, command) } };
    }
    return outcome;
  };
}
