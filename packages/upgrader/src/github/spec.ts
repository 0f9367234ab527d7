import { errors } from '@llm-upgrade/core';

/** `github:OWNER/REPO[@TAG]`: a GitHub repository's releases as a feed. */
export interface GithubFeedSpec {
  owner: string;
  repo: string;
  /** A release tag (`v0.12.3`); absent: the latest release. */
  tag?: string;
}

export const GITHUB_FEED_PREFIX = 'github:';

export function isGithubFeed(feed: string): boolean {
  return feed.startsWith(GITHUB_FEED_PREFIX);
}

// GitHub's own rules: owners are alphanumerics and single hyphens, repositories add `.` and `_`.
const OWNER = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;
const REPO = /^[A-Za-z0-9._-]{1,100}$/;

export function parseGithubFeed(feed: string): GithubFeedSpec {
  const bad = (why: string) =>
    errors.usageError({
      message: `--feed ${feed}: ${why}`,
      hint: 'Write --feed github:OWNER/REPO (the latest release) or github:OWNER/REPO@TAG, e.g. github:ollama/ollama@v0.12.3.',
      phase: 'usage',
      changed: false,
    });
  if (!isGithubFeed(feed)) throw bad('not a github: feed');
  const rest = feed.slice(GITHUB_FEED_PREFIX.length);
  const at = rest.indexOf('@');
  const path = at < 0 ? rest : rest.slice(0, at);
  const tag = at < 0 ? undefined : rest.slice(at + 1);
  const [owner, repo, ...more] = path.split('/');
  if (!owner || !repo || more.length > 0) throw bad('needs OWNER/REPO');
  if (!OWNER.test(owner)) throw bad(`"${owner}" is not a GitHub owner name`);
  if (!REPO.test(repo) || repo === '.' || repo === '..') throw bad(`"${repo}" is not a GitHub repository name`);
  if (tag !== undefined && (tag === '' || /[\s~^:?*[\\]|\.\.|^\/|\/$/.test(tag))) throw bad(`"${tag}" is not a tag name`);
  return { owner, repo, ...(tag !== undefined ? { tag } : {}) };
}

export function describeSpec(spec: GithubFeedSpec): string {
  return `github:${spec.owner}/${spec.repo}${spec.tag ? `@${spec.tag}` : ''}`;
}
