import { resolve } from 'node:path';
import { currentOs, defaultRoots, LlmUpgradeError, resolveProfile, type Profile } from '@llm-upgrade/core';
import type { CommonOptions } from './args.js';

export interface CliScope {
  roots: string[];
  profile: Profile;
}

/** --install-dir wins for roots; --profile (default ollama) gives names, services and defaults. */
export async function resolveCliScope(common: CommonOptions): Promise<CliScope> {
  const profile = await resolveProfile(common.profile ?? 'ollama');
  if (common.installDirs.length > 0) {
    return { roots: common.installDirs.map((d) => resolve(d)), profile };
  }
  const roots = await defaultRoots(profile, currentOs(), process.env);
  if (roots.length === 0) {
    throw new LlmUpgradeError({
      code: 'ERR_USAGE',
      message: `no install of ${profile.name} found in its default locations`,
      hint: 'Name the install with --install-dir PATH (repeatable).',
      phase: 'usage',
      changed: false,
    });
  }
  return { roots, profile };
}
