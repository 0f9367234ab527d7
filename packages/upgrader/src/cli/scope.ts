import { existsSync } from 'node:fs';
import { resolve, isAbsolute, join } from 'node:path';
import { assertRootsExist, currentOs, defaultRoots, resolveProfile, resolveRoots, type Profile, errors } from '@llm-upgrade/core';
import type { CommonOptions, ParsedCommand } from './args.js';
import { STATE_DIR } from '../installed.js';
import { installLayout, prefixOf } from '../layout.js';
import { statePaths } from '../paths.js';

export interface CliScope {
  roots: string[];
  profile: Profile;
}

export interface CliScopeOptions {
  /** Every command but `apply` (which may install into a directory that does not exist yet). */
  requireExisting?: boolean;
}

/**
 * --install-dir wins for roots; --profile (default ollama) gives names, services and defaults.
 * Named roots are checked by core's one rule (too broad: ERR_ROOT_TOO_BROAD) and, with
 * requireExisting, must exist (ERR_NO_SUCH_ROOT). Default roots that do not exist are skipped.
 */
export async function resolveCliScope(common: CommonOptions, opts: CliScopeOptions = {}): Promise<CliScope> {
  const profile = await resolveProfile(common.profile ?? 'ollama');
  if (common.installDirs.length > 0) {
    const given = common.installDirs.map((d) => resolve(d));
    // A root an interrupted transaction moved aside (bin/ollama in its backup) is still the install.
    if (opts.requireExisting && !hasJournal(given)) assertRootsExist(given, 'usage');
    resolveRoots(given, 'usage');
    return { roots: given, profile };
  }
  let roots = defaultRoots(profile, currentOs(), process.env);
  if (roots.length === 0) roots = interruptedPathRoots(profile, process.env);
  if (opts.requireExisting && !hasJournal(roots)) roots = roots.filter((r) => existsSync(r));
  if (roots.length === 0) {
    throw errors.usageError({
      message: `no install of ${profile.name} found in its default locations`,
      hint: 'Name the install with --install-dir PATH (repeatable).',
      phase: 'usage',
      changed: false,
    });
  }
  resolveRoots(roots, 'usage');
  return { roots, profile };
}

function hasJournal(roots: readonly string[]): boolean {
  return roots.length > 0 && existsSync(statePaths(installLayout(roots).base).journal);
}

/**
 * The profile's PATH binary is missing while an interrupted transaction has it in its backup:
 * find the install by the journal at the prefix of a PATH entry (`<dir>/../.llm-upgrade/journal.json`).
 */
function interruptedPathRoots(profile: Profile, env: NodeJS.ProcessEnv): string[] {
  if (currentOs() !== 'linux' || !profile.pathRoots) return [];
  for (const dir of (env.PATH ?? '').split(':')) {
    if (!dir || !isAbsolute(dir)) continue;
    const roots = [join(dir, profile.pathRoots.binary), ...profile.pathRoots.relative.map((r) => resolve(dir, r))];
    if (existsSync(join(prefixOf(roots), STATE_DIR, 'journal.json'))) return roots;
  }
  return [];
}

/** stop, sweep, status and holders take no positional argument: a bare path would otherwise be ignored. */
export function refusePositionals(parsed: ParsedCommand): void {
  const [first] = parsed.positionals;
  if (first === undefined) return;
  throw errors.usageError({
    message: `${parsed.command} takes no positional argument (got "${first}")`,
    hint: `To name the install, use --install-dir ${first}`,
    phase: 'usage',
    changed: false,
    details: { positional: first },
  });
}
