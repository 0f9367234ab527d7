import type { Profile } from '@llm-upgrade/core';
import { resolveGithubFeed, sha256ByName, type ResolvedGithubFeed } from './resolve.js';
import type { ReleaseQuery } from './release.js';

/** What a `github:` feed becomes for apply: foreign archives (URLs, base first) with their digests and version. */
export interface GithubArchivesSource {
  archives: string[];
  sha256ByName: Record<string, string>;
  version: string;
  /** `github:OWNER/REPO@TAG`, for the report. */
  label: string;
  resolved: ResolvedGithubFeed;
}

export async function githubArchivesSource(
  opts: ReleaseQuery & { feed: string; roots: string[]; profile: Profile | undefined; platform: string },
): Promise<GithubArchivesSource> {
  const resolved = await resolveGithubFeed(opts);
  return {
    archives: resolved.archives.map((a) => a.url),
    sha256ByName: sha256ByName(resolved),
    version: resolved.version,
    label: `${resolved.feed}@${resolved.tag}`,
    resolved,
  };
}
