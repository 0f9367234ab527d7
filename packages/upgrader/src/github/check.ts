import semver from 'semver';
import type { Profile } from '@llm-upgrade/core';
import { versionOfInstall } from '../transaction/checks.js';
import { readInstalledState } from '../installed.js';
import { resolveGithubFeed } from './resolve.js';
import type { ReleaseQuery } from './release.js';

export interface GithubCheckOptions extends ReleaseQuery {
  feed: string;
  roots: string[];
  profile: Profile | undefined;
  platform: string;
}

export interface GithubCheckResult {
  ok: true;
  feed: string;
  platform: string;
  installed: string | null;
  latest: {
    version: string;
    tag: string;
    prerelease: boolean;
    assets: { name: string; url: string; size: number; sha256: string }[];
  } | null;
  updateAvailable: boolean;
}

/** `check --feed github:OWNER/REPO`: the release it names (with the install's add-ons) against what is installed. */
export async function checkGithubFeed(opts: GithubCheckOptions): Promise<GithubCheckResult> {
  const resolved = await resolveGithubFeed(opts);
  const recorded = opts.roots.length ? await readInstalledState(opts.roots) : null;
  // An install llm-upgrade never upgraded (install.sh's) still knows its version: ask the binary.
  const installed =
    recorded?.version ?? (resolved.prefix !== null ? await versionOfInstall(resolved.prefix, opts.profile?.versionCommand) : null);
  return {
    ok: true,
    feed: resolved.feed,
    platform: opts.platform,
    installed,
    latest: {
      version: resolved.version,
      tag: resolved.tag,
      prerelease: resolved.prerelease,
      assets: resolved.archives.map((a) => ({ name: a.fileName, url: a.url, size: a.size, sha256: a.sha256 })),
    },
    updateAvailable: installed === null || semver.gt(resolved.version, installed),
  };
}
