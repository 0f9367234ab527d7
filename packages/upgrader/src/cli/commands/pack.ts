import { EXIT, errors } from '@llm-upgrade/core';
import { pack } from '../../pack.js';
import type { CommandHandler } from './types.js';

export const packCommand: CommandHandler = async ({ parsed, reporter }) => {
  const { values, positionals } = parsed;
  const dir = positionals[0];
  const name = values.name;
  const version = values['package-version'];
  const out = values.out;
  if (!dir || typeof name !== 'string' || typeof version !== 'string' || typeof out !== 'string') {
    throw errors.usageError({
      message: 'pack needs DIR, --name, --version and --out',
      hint: 'llm-upgrade pack ./dist --name ollama --version 0.12.3 --out ollama-0.12.3.tar.gz',
      phase: 'usage',
      changed: false,
    });
  }
  const smoke = typeof values.smoke === 'string' ? values.smoke.split(/\s+/).filter(Boolean) : undefined;
  reporter.progress(`packing ${dir}`);
  const result = await pack({
    dir,
    name,
    version,
    out,
    ...(typeof values.platform === 'string' ? { platform: values.platform } : {}),
    ...(typeof values['sign-key'] === 'string' ? { signKey: values['sign-key'] } : {}),
    ...(smoke?.length ? { smoke } : {}),
  });
  reporter.line(
    `wrote ${result.out}: ${result.name} ${result.version} (${result.platform}), ${result.files} files, ${result.bytes} bytes${result.signed ? ', signed' : ''}; sha256 ${result.sha256}`,
  );
  return { exitCode: EXIT.ok, result };
};
