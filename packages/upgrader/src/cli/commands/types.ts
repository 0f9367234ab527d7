import type { ParsedCommand } from '../args.js';
import type { Reporter } from '../reporter.js';

export interface CommandContext {
  parsed: ParsedCommand;
  reporter: Reporter;
}

/** What a command hands back to the CLI: the --json document and the exit code. */
export interface CommandOutcome {
  exitCode: number;
  result: object;
}

export type CommandHandler = (ctx: CommandContext) => Promise<CommandOutcome>;
