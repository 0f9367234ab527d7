import { EXIT, LlmUpgradeError, toLlmUpgradeError } from '@llm-upgrade/core';
import { HELP, parseCommandLine } from './args.js';
import { commandLoaders } from './commands/index.js';
import { Reporter } from './reporter.js';
import { VERSION } from '../version.js';

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stdinIsTty: boolean;
  env: NodeJS.ProcessEnv;
}

/** argv → options → one library call → exit code. Never throws. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let outcome;
  try {
    outcome = parseCommandLine(argv, io.stdinIsTty);
  } catch (e) {
    const err = toLlmUpgradeError(e, 'usage', false);
    const json = argv.includes('--json');
    new Reporter({ json, quiet: false, logFile: undefined, stdout: io.stdout, stderr: io.stderr, env: io.env, command: 'usage' }).error(err);
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
  const reporter = new Reporter({ ...parsed.common, stdout: io.stdout, stderr: io.stderr, env: io.env, command: parsed.command });
  try {
    const load = commandLoaders[parsed.command];
    if (!load) {
      throw new LlmUpgradeError({ code: 'ERR_USAGE', message: `command "${parsed.command}" is not available in this build`, hint: 'Run `llm-upgrade --help` for the commands this build has.', phase: 'usage', changed: false });
    }
    const handler = await load();
    const { exitCode, result } = await handler({ parsed, reporter });
    reporter.result(result, exitCode);
    return exitCode;
  } catch (e) {
    const err = toLlmUpgradeError(e, 'usage', false);
    reporter.error(err);
    return err.exitCode;
  }
}
