import type { ParsedCommand } from '../args.js';
import type { Reporter } from '../reporter.js';

export interface CommandContext {
  parsed: ParsedCommand;
  reporter: Reporter;
  /**
   * Aborted when SIGINT, SIGTERM or SIGHUP arrives while the command runs; `signal.reason` is the
   * signal's name. Library calls take it as `signal` and end with interruptedError once they have
   * thawed what they froze and finished or undone what was in flight.
   */
  signal: AbortSignal;
}

/** What a command hands back to the CLI: the --json document and the exit code. */
export interface CommandOutcome {
  exitCode: number;
  result: object;
}

export type CommandHandler = ((ctx: CommandContext) => Promise<CommandOutcome>) & {
  /** The command handles SIGINT/SIGTERM/SIGHUP itself (run forwards them, watch ends cleanly): the CLI installs no handlers. */
  handlesSignals?: boolean;
};
