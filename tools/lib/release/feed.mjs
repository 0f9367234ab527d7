// feed.json (docs/design.md "Formats": { name, releases: [{ version, platforms: { key: { url, size, sha256 } } }] },
// URLs relative to the feed) and SHA256SUMS.
import { existsSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';

const HAS_SCHEME = /^[a-z][a-z0-9+.-]*:/i;

/** semver precedence (release > pre-release), enough to order a feed newest first. */
export function compareVersions(a, b) {
  const parse = (v) => {
    const [core, pre] = v.split('+')[0].split(/-(.*)/s);
    return { nums: core.split('.').map(Number), pre: pre ? pre.split('.') : [] };
  };
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < 3; i++) if ((x.nums[i] ?? 0) !== (y.nums[i] ?? 0)) return (x.nums[i] ?? 0) - (y.nums[i] ?? 0);
  if (!x.pre.length || !y.pre.length) return y.pre.length - x.pre.length;
  for (let i = 0; i < Math.max(x.pre.length, y.pre.length); i++) {
    const p = x.pre[i];
    const q = y.pre[i];
    if (p === undefined) return -1;
    if (q === undefined) return 1;
    if (p === q) continue;
    const pn = /^\d+$/.test(p);
    const qn = /^\d+$/.test(q);
    if (pn && qn) return Number(p) - Number(q);
    if (pn !== qn) return pn ? -1 : 1;
    return p < q ? -1 : 1;
  }
  return 0;
}

/** A relative URL from directory `fromDir` to file `file` (forward slashes, each segment escaped). */
function relativeUrl(fromDir, file) {
  return relative(fromDir, file).split(sep).map(encodeURIComponent).join('/');
}

/** Rebases a feed's asset URL (relative to `feedDir`) so it is relative to `toDir`; absolute URLs stay. */
function rebase(url, feedDir, toDir) {
  if (HAS_SCHEME.test(url) || url.startsWith('/')) return url;
  const file = join(feedDir, ...decodeURIComponent(url).split('/'));
  return relativeUrl(toDir, file);
}

function readFeed(file) {
  if (!existsSync(file)) return null;
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  if (typeof doc?.name !== 'string' || !Array.isArray(doc.releases)) throw new Error(`${file} is not a feed (needs "name" and "releases")`);
  return doc;
}

/** The feed entry of this release: assets are { platform, file, size, sha256 } with `file` absolute. */
function entryFor(version, assets, feedDir) {
  const platforms = {};
  for (const a of [...assets].sort((p, q) => (p.platform < q.platform ? -1 : 1))) {
    platforms[a.platform] = { url: relativeUrl(feedDir, a.file), size: a.size, sha256: a.sha256 };
  }
  return { version, platforms };
}

function withRelease(releases, entry) {
  return [entry, ...releases.filter((r) => r.version !== entry.version)].sort((a, b) => compareVersions(b.version, a.version));
}

async function writeJson(file, doc) {
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(doc, null, 2)}\n`);
  await rename(tmp, file);
}

/**
 * Writes `<outDir>/feed.json`: this release plus every other release listed in
 * `<outDir>/../feed.json` (the channel feed), URLs rebased. Updates the channel feed with this
 * release when it exists or `createChannel` is set. Returns { feedFile, channelFile, versions, warnings }.
 */
export async function writeFeeds({ name, version, assets, outDir, createChannel }) {
  const out = resolve(outDir);
  const parent = dirname(out);
  const channelFile = join(parent, 'feed.json');
  const warnings = [];
  let channel = null;
  try {
    channel = readFeed(channelFile);
  } catch (e) {
    warnings.push(`${channelFile} ignored: ${e.message}`);
  }
  if (channel && channel.name !== name) {
    warnings.push(`${channelFile} is the feed of "${channel.name}", not "${name}": not merged`);
    channel = null;
  }
  const older = (channel?.releases ?? [])
    .filter((r) => r.version !== version)
    .map((r) => ({
      version: r.version,
      platforms: Object.fromEntries(Object.entries(r.platforms ?? {}).map(([k, a]) => [k, { ...a, url: rebase(a.url, parent, out) }])),
    }));
  const feed = { name, releases: withRelease(older, entryFor(version, assets, out)) };
  const feedFile = join(out, 'feed.json');
  await writeJson(feedFile, feed);
  let channelWritten = null;
  if (channel || (createChannel && !existsSync(channelFile))) {
    const base = channel ?? { name, releases: [] };
    await writeJson(channelFile, { ...base, name, releases: withRelease(base.releases, entryFor(version, assets, parent)) });
    channelWritten = channelFile;
  }
  return { feedFile, channelFile: channelWritten, versions: feed.releases.map((r) => r.version), warnings };
}

/** SHA256SUMS in the `sha256sum -c` format, sorted by name. */
export async function writeSha256Sums(outDir, artifacts) {
  const lines = [...artifacts].sort((a, b) => (a.name < b.name ? -1 : 1)).map((a) => `${a.sha256}  ${basename(a.name)}`);
  const file = join(outDir, 'SHA256SUMS');
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}
