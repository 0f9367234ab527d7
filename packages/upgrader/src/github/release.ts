import semver from 'semver';
import { errors } from '@llm-upgrade/core';
import { fetchError } from '../feed.js';
import { githubJson, type GithubApiOptions } from './api.js';
import type { ReleaseAsset } from './assets.js';
import { sha256OfDigest } from './checksums.js';
import { describeSpec, type GithubFeedSpec } from './spec.js';

export interface GithubRelease {
  tag: string;
  /** The tag without a leading `v`: semver. */
  version: string;
  prerelease: boolean;
  assets: ReleaseAsset[];
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function versionOfTag(tag: string): string | null {
  const v = tag.replace(/^v/, '');
  return semver.valid(v) ? v : null;
}

function parseRelease(doc: unknown, where: string): GithubRelease & { draft: boolean } {
  if (!isObj(doc) || typeof doc.tag_name !== 'string' || !Array.isArray(doc.assets))
    throw fetchError(
      `${where}: the answer is not a GitHub release (no tag_name or assets)`,
      'Check --github-api: it must be the API base URL.',
    );
  const assets = doc.assets.flatMap((a): ReleaseAsset[] => {
    if (!isObj(a) || typeof a.name !== 'string' || typeof a.browser_download_url !== 'string' || typeof a.size !== 'number') return [];
    return [{ name: a.name, size: a.size, url: a.browser_download_url, sha256: sha256OfDigest(a.digest) }];
  });
  const version = versionOfTag(doc.tag_name);
  if (version === null)
    throw errors.notSemverError({
      message: `${where}: release tag "${doc.tag_name}" is not a semver version (with or without a leading v)`,
      hint: 'Name a release whose tag is a version: github:OWNER/REPO@vX.Y.Z.',
      phase: 'fetch',
      changed: false,
      details: { tag: doc.tag_name },
    });
  return { tag: doc.tag_name, version, prerelease: doc.prerelease === true, draft: doc.draft === true, assets };
}

export interface ReleaseQuery extends GithubApiOptions {
  /** Allow pre-releases: the newest non-draft release of the list, by version. */
  pre?: boolean;
}

/** The release a `github:` feed names: its tag, else the latest (with `pre`, the newest non-draft). */
export async function fetchRelease(spec: GithubFeedSpec, opts: ReleaseQuery): Promise<GithubRelease> {
  const repo = `/repos/${encodeURIComponent(spec.owner)}/${encodeURIComponent(spec.repo)}`;
  const name = describeSpec(spec);
  const missing = (what: string) => () =>
    errors.fetchError({
      message: `${name}: ${what} not found (HTTP 404 from ${opts.apiUrl ?? 'https://api.github.com'})`,
      hint: opts.token ? 'Check OWNER/REPO and the tag.' : 'Check OWNER/REPO and the tag; a private repository needs GITHUB_TOKEN.',
      phase: 'fetch',
      changed: false,
      details: { feed: name, status: 404 },
    });
  if (spec.tag) {
    const { draft: _draft, ...release } = parseRelease(
      await githubJson(`${repo}/releases/tags/${encodeURIComponent(spec.tag)}`, opts, missing(`release ${spec.tag}`)),
      name,
    );
    return release;
  }
  if (!opts.pre) {
    const { draft: _draft, ...release } = parseRelease(
      await githubJson(`${repo}/releases/latest`, opts, missing('the repository or its latest release')),
      name,
    );
    return release;
  }
  const list = await githubJson(`${repo}/releases?per_page=30`, opts, missing('the repository'));
  if (!Array.isArray(list))
    throw fetchError(`${name}: the release list is not a JSON array`, 'Check --github-api: it must be the API base URL.');
  const candidates = list.flatMap((doc) => {
    try {
      const r = parseRelease(doc, name);
      return r.draft ? [] : [r];
    } catch {
      return []; // a release whose tag is no version is not a candidate
    }
  });
  candidates.sort((a, b) => semver.rcompare(a.version, b.version));
  const top = candidates[0];
  if (!top)
    throw errors.fetchError({
      message: `${name} has no published release with a version tag`,
      hint: 'Check OWNER/REPO.',
      phase: 'fetch',
      changed: false,
      details: { feed: name },
    });
  const { draft: _draft, ...release } = top;
  return release;
}
