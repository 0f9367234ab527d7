import { LlmUpgradeError, type Profile, errors } from '@llm-upgrade/core';
import { fetchError, get, type FeedAsset } from '../feed.js';
import { downloadHeaders } from './api.js';
import { installLayout } from '../layout.js';
import { pickAssets, type ReleaseAsset } from './assets.js';
import { parseSha256Sums } from './checksums.js';
import { fetchRelease, type ReleaseQuery } from './release.js';
import { describeSpec, parseGithubFeed } from './spec.js';

export interface GithubFeedOptions extends ReleaseQuery {
  /** `github:OWNER/REPO[@TAG]`. */
  feed: string;
  roots: string[];
  profile: Profile | undefined;
  platform: string;
}

export interface GithubArchive extends FeedAsset {
  fileName: string;
}

export interface ResolvedGithubFeed {
  feed: string;
  tag: string;
  version: string;
  prerelease: boolean;
  /** Where the archives are laid (the install's base): add-ons were looked for under it; null when no install was found. */
  prefix: string | null;
  /** Base first, then the add-ons the install has; each with the SHA-256 it must have. */
  archives: GithubArchive[];
  /** Which source vouched for the digests. */
  verifiedBy: ('sha256sum' | 'digest')[];
}

async function fetchText(url: string, opts: GithubFeedOptions, limit: number): Promise<string> {
  const res = await get(url, downloadHeaders(url, opts), opts, true);
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of res.body) {
      n += (c as Buffer).length;
      if (n > limit) throw fetchError(`${url}: larger than ${limit} bytes`);
      chunks.push(c as Buffer);
    }
  } catch (e) {
    if (e instanceof LlmUpgradeError) throw e;
    throw fetchError(`${url}: ${(e as Error).message}`);
  }
  if (res.status !== 200)
    throw fetchError(
      `${url}: HTTP ${res.status}`,
      'The release lists a checksum file the server does not serve; try again later or tell the publisher.',
      { url, status: res.status },
    );
  return Buffer.concat(chunks).toString('utf8');
}

/** The digest an asset must have: sha256sum.txt and the API's `digest`, which must agree when both exist. */
function expectedSha256(feed: string, asset: ReleaseAsset, sums: Map<string, string> | null, checksumsName: string | undefined): string {
  const fromSums = sums?.get(asset.name) ?? null;
  if (fromSums && asset.sha256 && fromSums !== asset.sha256) {
    throw errors.hashMismatchError({
      message: `${feed}: ${checksumsName} says ${asset.name} has SHA-256 ${fromSums}, the release's digest says ${asset.sha256}`,
      hint: 'The release contradicts itself; do not install it, tell the publisher.',
      phase: 'fetch',
      changed: false,
      details: { asset: asset.name, sha256sum: fromSums, digest: asset.sha256 },
    });
  }
  const hex = fromSums ?? asset.sha256;
  if (!hex) {
    throw errors.fetchError({
      message: `${feed}: nothing vouches for ${asset.name}: ${checksumsName ? `${checksumsName} does not list it` : 'the profile names no checksum asset'} and the API gives no sha256 digest`,
      hint: 'Refused: an archive nobody checksummed cannot be verified. Download it yourself and pass --checksums FILE.',
      phase: 'fetch',
      changed: false,
      details: { asset: asset.name },
    });
  }
  return hex;
}

/** Which release and which of its assets an upgrade from a `github:` feed installs, nothing downloaded yet but the checksums. */
export async function resolveGithubFeed(opts: GithubFeedOptions): Promise<ResolvedGithubFeed> {
  const spec = parseGithubFeed(opts.feed);
  // The repository names the feed; the tag is reported beside it.
  const feed = describeSpec({ owner: spec.owner, repo: spec.repo });
  const release = await fetchRelease(spec, opts);
  // Archives are laid onto the install's base: add-ons are looked for under it.
  const prefix = opts.roots.length ? installLayout(opts.roots).base : null;
  const where = `${feed} ${release.tag}`;
  const picked = await pickAssets(where, release.assets, opts.profile?.releaseAssets, opts.platform, prefix);
  const checksumsName = opts.profile?.releaseAssets?.checksums;
  const checksumsAsset = checksumsName ? release.assets.find((a) => a.name === checksumsName) : undefined;
  const sums = checksumsAsset ? parseSha256Sums(await fetchText(checksumsAsset.url, opts, 1 << 20)) : null;
  const archives = [picked.base, ...picked.addons].map(
    (a): GithubArchive => ({ url: a.url, size: a.size, sha256: expectedSha256(where, a, sums, checksumsAsset?.name), fileName: a.name }),
  );
  const verifiedBy: ResolvedGithubFeed['verifiedBy'] = [];
  if (sums && archives.every((a) => sums.has(a.fileName))) verifiedBy.push('sha256sum');
  if ([picked.base, ...picked.addons].every((a) => a.sha256)) verifiedBy.push('digest');
  return { feed, tag: release.tag, version: release.version, prerelease: release.prerelease, prefix, archives, verifiedBy };
}

export function sha256ByName(resolved: ResolvedGithubFeed): Record<string, string> {
  return Object.fromEntries(resolved.archives.map((a) => [a.fileName, a.sha256]));
}
