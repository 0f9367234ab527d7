import { type LlmUpgradeError, errors } from '@llm-upgrade/core';
import semver from 'semver';
import { resolveUnderRoot, runCommand } from '../transaction/checks.js';
import { parseVersionOutput } from './version-output.js';

/**
 * The version of a staged tree without a manifest: `version` when given, else what the
 * profile's version command (root-relative argv, e.g. `bin/ollama --version`) prints when run
 * from staging. It must be a semantic version: the downgrade rules compare it.
 */
export async function versionOfStaged(
  staging: string,
  given: string | undefined,
  command: string[] | undefined,
  timeoutMs: number,
): Promise<string> {
  if (given !== undefined) {
    const v = semver.valid(given.replace(/^v/, ''));
    if (!v) throw notSemver(`--version "${given}" is not a semantic version (x.y.z)`, given);
    return v;
  }
  if (!command?.length) {
    throw errors.usageError({
      message: 'the archives carry no version and the profile has no version command',
      hint: 'Pass --version V (e.g. --version 0.12.3), or a profile with "versionCommand".',
      phase: 'verify',
      changed: false,
    });
  }
  const file = resolveUnderRoot(staging, command[0]!);
  const r = await runCommand(file, command.slice(1), timeoutMs);
  const v = r.code === 0 ? parseVersionOutput(r.output) : null;
  if (!v) {
    throw errors.badPackageError({
      message: `the staged ${command.join(' ')} ${r.code !== 0 ? `failed (${r.error ?? `exit ${r.code}`})` : 'printed no version'}: ${r.output.trim().slice(0, 200) || '(no output)'}`,
      hint: 'Check the archives (the base archive first), or pass --version V.',
      phase: 'verify',
      changed: false,
      details: { command, output: r.output.slice(0, 2000) },
    });
  }
  return v;
}

function notSemver(message: string, version: string): LlmUpgradeError {
  return errors.notSemverError({
    message,
    hint: 'Versions must be semver, e.g. 0.12.3.',
    phase: 'verify',
    changed: false,
    details: { version },
  });
}
