import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { assertRootsExist, currentOs, defaultRoots, resolveProfile, resolveRoots, type Profile, errors } from '@llm-upgrade/core';
import type { CommonOptions, ParsedCommand } from './args.js';

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
    if (opts.requireExisting) assertRootsExist(given, 'usage');
    resolveRoots(given, 'usage');
    return { roots: given, profile };
  }
  let roots = defaultRoots(profile, currentOs(), process.env);
  if (opts.requireExisting) roots = roots.filter((r) => existsSync(r));
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
