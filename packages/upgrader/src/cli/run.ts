import { DEFAULTS, EXIT, INTERRUPT_SIGNALS, toLlmUpgradeError, type InterruptSignal, errors, interruptedError } from '@llm-upgrade/core';
import { HELP, parseCommandLine } from './args.js';
import { commandLoaders } from './commands/index.js';
import { Reporter } from './reporter.js';
import { VERSION } from '../version.js';

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stdinIsTty: boolean;
  env: NodeJS.ProcessEnv;
  /** false: leave SIGINT/SIGTERM/SIGHUP alone (in-process tests). Default: handled while the command runs. */
  handleSignals?: boolean;
}

/** argv → options → one library call → exit code. Never throws. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let outcome;
  try {
    // Ask only when someone can see the question and answer it.
    outcome = parseCommandLine(argv, io.stdinIsTty && io.stderr.isTTY === true);
  } catch (e) {
    const err = toLlmUpgradeError(e, 'usage', false);
    const json = argv.includes('--json');
    new Reporter({ json, quiet: false, logFile: undefined, stdout: io.stdout, stderr: io.stderr, env: io.env, command: 'usage' }).error(
      err,
    );
    return err.exitCode;
  }
  if (outcome.kind === 'version') {
    io.stdout.write(`${VERSION}\n`);
    return EXIT.ok;
  }
  if (outcome.kind === 'help') {
    io.stdout.write(`${HELP[outcome.command ?? 'main']}\n`);
    return EXIT.ok;
  }
  const { parsed } = outcome;
  // For the wait lines only ("grace ends in 3.2s"): the library applies the same defaults itself.
  const graceMs =
    parsed.common.graceMs ??
    (parsed.command === 'sweep' || parsed.command === 'watch'
      ? DEFAULTS.sweepGraceMs
      : parsed.command === 'run'
        ? DEFAULTS.runGraceMs
        : DEFAULTS.stopGraceMs);
  const timeoutMs = parsed.common.timeoutMs ?? (parsed.command === 'run' ? DEFAULTS.runTimeoutMs : DEFAULTS.timeoutMs);
  const reporter = new Reporter({
    ...parsed.common,
    graceMs,
    timeoutMs,
    stdout: io.stdout,
    stderr: io.stderr,
    env: io.env,
    command: parsed.command,
  });
  let interrupts: ReturnType<typeof catchInterrupts> | undefined;
  try {
    const load = commandLoaders[parsed.command];
    if (!load) {
      throw errors.usageError({
        message: `command "${parsed.command}" is not available in this build`,
        hint: 'Run `llm-upgrade --help` for the commands this build has.',
        phase: 'usage',
        changed: false,
      });
    }
    // Caught from before the command's module loads: a signal while it loads aborts the command
    // at its start instead of killing the process (the log already has its first line by then).
    if (io.handleSignals !== false) interrupts = catchInterrupts(reporter);
    const handler = await load();
    if (interrupts && handler.handlesSignals) {
      const reason: unknown = interrupts.signal.reason;
      interrupts.dispose();
      interrupts = undefined;
      if (reason === 'SIGINT' || reason === 'SIGTERM' || reason === 'SIGHUP') throw interruptedError(reason, 'usage', false);
    }
    const { exitCode, result } = await handler({ parsed, reporter, signal: interrupts?.signal ?? new AbortController().signal });
    reporter.result(result, exitCode);
    return exitCode;
  } catch (e) {
    const err = toLlmUpgradeError(e, 'usage', false);
    reporter.error(err);
    return err.exitCode;
  } finally {
    interrupts?.dispose();
  }
}

/**
 * While a command runs, SIGINT/SIGTERM/SIGHUP do not kill the process: they abort the command's
 * AbortSignal so the library can thaw what it froze and finish or undo what is in flight, then
 * end with ERR_INTERRUPTED (exit 128 + N). A second signal of any kind ends at once.
 */
function catchInterrupts(reporter: Reporter): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const handlers = new Map<InterruptSignal, () => void>();
  for (const name of Object.keys(INTERRUPT_SIGNALS) as InterruptSignal[]) {
    const handler = () => {
      if (controller.signal.aborted) {
        reporter.line(`${name} again: exiting now without cleaning up`, 'warn');
        process.exit(INTERRUPT_SIGNALS[name]);
      }
      reporter.line(`${name} received: finishing the step in flight, undoing what is unfinished, then exiting`, 'warn');
      controller.abort(name);
    };
    handlers.set(name, handler);
    process.on(name, handler);
  }
  return {
    signal: controller.signal,
    dispose: () => {
      for (const [name, handler] of handlers) process.off(name, handler);
    },
  };
}
