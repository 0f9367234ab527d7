import { runGuarded, WATCHDOG_ENV, type GuardEvent, type WatchdogCommand, errors } from '@llm-upgrade/core';
import type { CommandHandler } from './types.js';

function describe(e: GuardEvent): string | undefined {
  switch (e.type) {
    case 'contain':
      return `guard: ${e.mechanisms.join(', ') || 'none'}`;
    case 'spawn':
      return `started ${e.command.join(' ')} (pid ${e.pid})`;
    case 'forward':
      return `${e.signal} forwarded to pid ${e.pid}`;
    case 'exit':
      return `pid ${e.pid} exited (${e.signal ?? `code ${e.code}`})`;
    case 'cleanup':
      return e.remaining > 0 ? `${e.remaining} process(es) it started are still running: stopping them` : undefined;
    case 'signal':
      return `${e.signal} → ${e.name} (pid ${e.pid})`;
    case 'warning':
      return `warning: ${e.message}`;
    default:
      return undefined;
  }
}

/**
 * The watchdog is this same program started again with WATCHDOG_ENV set (main.ts hands it to
 * watchdogMain): that works from npm (node + main.js) and from the single executable alike.
 */
function selfWatchdog(): WatchdogCommand {
  const script = process.argv[1];
  return { file: process.execPath, args: script && script !== process.execPath ? [script] : [], env: { [WATCHDOG_ENV]: '1' } };
}

const run: CommandHandler = async ({ parsed, reporter }) => {
  const [command, ...args] = parsed.positionals;
  if (!command) {
    throw errors.usageError({
      message: 'run needs a command: llm-upgrade run [--grace 2s] -- CMD [ARGS...]',
      hint: 'Put the command after `--`.',
      phase: 'usage',
      changed: false,
    });
  }
  const graceMs = parsed.common.graceMs;
  const result = await runGuarded({
    command,
    args,
    graceMs,
    forwardSignals: true,
    // Test-only (see README): the Wine control run shows the Job Object is what ends the tree.
    contain: process.env.LLM_UPGRADE_TEST_RUN_NO_CONTAIN !== '1',
    watchdog: selfWatchdog(),
    onEvent: (e) => reporter.event(e as unknown as { type: string }, describe(e)),
  });
  if (result.survivors.length > 0) {
    reporter.line(`still running after the force: ${result.survivors.map((s) => `${s.name} (pid ${s.pid})`).join(', ')}`, 'warn');
  }
  return { exitCode: result.exitCode, result: { ok: result.survivors.length === 0, ...result } };
};

export const runCommand: CommandHandler = Object.assign(run, { handlesSignals: true });
