import { EXIT, errors } from '@llm-upgrade/core';
import { completionScript, SHELLS } from '../completion.js';
import type { CommandHandler } from './types.js';

export const completionCommand: CommandHandler = async ({ parsed, reporter }) => {
  const shell = parsed.positionals[0];
  if (!shell || parsed.positionals.length > 1) {
    throw errors.usageError({
      message: 'completion takes one shell',
      hint: `llm-upgrade completion ${SHELLS.join('|')}`,
      phase: 'usage',
      changed: false,
    });
  }
  const script = completionScript(shell);
  reporter.line(script.trimEnd());
  return { exitCode: EXIT.ok, result: { ok: true, shell, script } };
};
