import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, stat, unlink } from 'node:fs/promises';
import { mkdirp } from './fsutil.js';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import semver from 'semver';
import { DEFAULTS, LlmUpgradeError, platformKey, errors, type ErrorDetails } from '@llm-upgrade/core';
import { readInstalledState } from './installed.js';
import type { UpgradeEventSink } from './events.js';

export interface FeedAsset {
  /** Absolute (resolved against the feed's URL). */
  url: string;
  size: number;
  sha256: string;
}

export interface FeedRelease {
  version: string;
  platforms: Record<string, FeedAsset>;
}

export interface Feed {
  name: string;
  releases: FeedRelease[];
}

export function fetchError(
  message: string,
  hint = 'Check the URL and the network, then run the command again.',
  details?: ErrorDetails<'ERR_FETCH'>,
): LlmUpgradeError {
  return errors.fetchError({ message, hint, phase: 'fetch', changed: false, ...(details ? { details } : {}) });
}

export interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: http.IncomingMessage;
  /** The URL that answered, after redirects: relative URLs in the body resolve against it. */
  finalUrl: string;
}

export interface FetchOptions {
  /** Bound on the whole request, redirects and body included ("end to end"); for downloads: on a stall (no byte for this long). */
  timeoutMs?: number;
  /** Follow a redirect from https to plain http (loopback tests only): refused otherwise. */
  allowInsecureRedirect?: boolean;
}

/**
 * One GET, redirects followed (never from https down to http unless allowed), the body left
 * unread. With `endToEnd` the deadline also covers reading the body: a server that trickles
 * bytes cannot hold us past it; otherwise it bounds each stall.
 */
export function get(url: string, headers: Record<string, string>, opts: FetchOptions, endToEnd: boolean): Promise<Got> {
  const timeoutMs = opts.timeoutMs ?? DEFAULTS.timeoutMs;
  const deadline = Date.now() + timeoutMs;
  const original = url;
  const firstOrigin = URL.canParse(url) ? new URL(url).origin : '';
  const hop = (current: string, redirects: number, wasHttps: boolean): Promise<Got> =>
    new Promise((resolve, reject) => {
      let u: URL;
      try {
        u = new URL(current);
      } catch {
        reject(fetchError(`"${current}" is not a URL`));
        return;
      }
      const lib = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : null;
      if (!lib) {
        reject(fetchError(`${current}: only http and https are supported`));
        return;
      }
      if (wasHttps && u.protocol === 'http:' && !opts.allowInsecureRedirect) {
        reject(
          fetchError(
            `${original} redirects from https to plain http (${current}); refused`,
            'Use an https URL that stays on https; --allow-insecure-redirect exists for loopback tests only.',
            { url: original, redirectedTo: current },
          ),
        );
        return;
      }
      let response: http.IncomingMessage | undefined;
      // A token is for the server it was given for: never follow a redirect to another origin with it.
      const sent =
        u.origin === firstOrigin
          ? headers
          : Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
      const req = lib.get(u, { headers: { 'user-agent': 'llm-upgrade', ...sent } }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && res.headers.location && redirects > 0) {
          res.resume();
          clearTimeout(timer);
          hop(new URL(res.headers.location, u).toString(), redirects - 1, wasHttps || u.protocol === 'https:').then(resolve, reject);
          return;
        }
        response = res;
        if (endToEnd) res.once('close', () => clearTimeout(timer));
        else {
          clearTimeout(timer);
          res.setTimeout(timeoutMs, () => res.destroy(new Error(`${original}: no data for ${timeoutMs} ms`)));
        }
        resolve({ status, headers: res.headers, body: res, finalUrl: u.toString() });
      });
      // The whole request (and, end to end, its body) must finish by the deadline.
      const timer = setTimeout(
        () => {
          const e = new Error(`${original}: no complete answer within ${timeoutMs} ms`);
          response?.destroy(e);
          req.destroy(e);
        },
        Math.max(1, deadline - Date.now()),
      );
      req.on('error', (e) => {
        clearTimeout(timer);
        reject(fetchError(`${current}: ${e.message}`));
      });
    });
  return hop(url, 5, false);
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads and validates a release feed; asset URLs are resolved against the URL that answered (after redirects). */
export async function fetchFeed(feedUrl: string, opts: FetchOptions = {}): Promise<Feed> {
  const res = await get(feedUrl, {}, opts, true);
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of res.body) {
      n += (c as Buffer).length;
      if (n > 16 * 1024 * 1024) throw fetchError(`${feedUrl}: feed larger than 16 MiB`);
      chunks.push(c as Buffer);
    }
  } catch (e) {
    if (e instanceof LlmUpgradeError) throw e;
    throw fetchError((e as Error).message);
  }
  if (res.status !== 200) throw fetchError(`${feedUrl}: HTTP ${res.status}`, 'Check the feed URL.', { status: res.status });
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (e) {
    throw errors.badPackageError({
      message: `${feedUrl}: feed is not JSON (${(e as Error).message})`,
      hint: 'The feed must be a feed.json as described in the README.',
      phase: 'fetch',
      changed: false,
    });
  }
  const bad = (what: string) =>
    errors.badPackageError({
      message: `${feedUrl}: ${what}`,
      hint: 'The feed must be a feed.json as described in the README.',
      phase: 'fetch',
      changed: false,
    });
  if (!isObj(doc) || typeof doc.name !== 'string' || !Array.isArray(doc.releases)) throw bad('needs "name" and "releases"');
  const releases = doc.releases.map((r, i): FeedRelease => {
    if (!isObj(r) || typeof r.version !== 'string' || !isObj(r.platforms)) throw bad(`releases[${i}] needs "version" and "platforms"`);
    if (!semver.valid(r.version))
      throw errors.notSemverError({
        message: `${feedUrl}: release version "${r.version}" is not semver`,
        hint: 'Feed versions must be semver.',
        phase: 'fetch',
        changed: false,
      });
    const platforms: Record<string, FeedAsset> = {};
    for (const [key, a] of Object.entries(r.platforms)) {
      if (
        !isObj(a) ||
        typeof a.url !== 'string' ||
        typeof a.size !== 'number' ||
        typeof a.sha256 !== 'string' ||
        !/^[0-9a-f]{64}$/.test(a.sha256)
      )
        throw bad(`releases[${i}].platforms.${key} needs url, size and sha256`);
      platforms[key] = { url: new URL(a.url, res.finalUrl).toString(), size: a.size, sha256: a.sha256 };
    }
    return { version: r.version, platforms };
  });
  return { name: doc.name, releases };
}

/** The newest release that has an asset for `platform`. */
export function newestFor(feed: Feed, platform: string): { version: string; asset: FeedAsset } | null {
  const withAsset = feed.releases.filter((r) => r.platforms[platform]);
  withAsset.sort((a, b) => semver.rcompare(a.version, b.version));
  const top = withAsset[0];
  return top ? { version: top.version, asset: top.platforms[platform]! } : null;
}

/** What `download` needs: the URL and the digest; the size when a feed declares it (else the server's headers say). */
export interface DownloadAsset {
  url: string;
  sha256: string;
  size?: number;
}

function totalFromHeaders(res: Got): number | undefined {
  const range = /\/(\d+)\s*$/.exec(String(res.headers['content-range'] ?? ''));
  if (res.status === 206 && range) return Number(range[1]);
  const length = Number(res.headers['content-length']);
  return res.status === 200 && Number.isSafeInteger(length) && length >= 0 ? length : undefined;
}

/** GETs a small text document (a checksum file), end to end within the timeout, at most `maxBytes`. */
export async function fetchText(url: string, opts: FetchOptions = {}, maxBytes = 1 << 20): Promise<string> {
  const res = await get(url, {}, opts, true).catch((e: unknown) => {
    throw fetchError(`${url}: ${(e as Error).message}`);
  });
  if (res.status !== 200) {
    res.body.resume();
    throw fetchError(`${url}: HTTP ${res.status}`, 'Check the URL of the checksum file.', { status: res.status, url });
  }
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.body) {
    n += (c as Buffer).length;
    if (n > maxBytes) {
      res.body.destroy();
      throw fetchError(`${url} is larger than ${maxBytes} bytes`, 'Give the URL of a sha256sum file.');
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The SHA-256 state of a file's first `bytes` bytes (a resumed download hashes what it already has once). */
async function hashPrefix(path: string, bytes: number): Promise<{ hash: Hash; bytes: number }> {
  const hash = createHash('sha256');
  if (bytes > 0)
    for await (const c of createReadStream(path, { start: 0, end: bytes - 1, highWaterMark: 1 << 20 })) hash.update(c as Buffer);
  return { hash, bytes };
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(c as Buffer);
  return h.digest('hex');
}

/**
 * Downloads into `dir` (inside the root's state directory), resuming with Range after a dropped
 * connection and across runs (the `.part` file is kept when the network fails). The size and
 * SHA-256 are checked before the file is handed on; a mismatch deletes it.
 */
export async function download(
  asset: DownloadAsset,
  dir: string,
  onEvent?: UpgradeEventSink,
  opts: FetchOptions = {},
  attempts = 6,
): Promise<string> {
  await mkdirp(dir);
  const ext = /(\.tar\.zst|\.tar\.gz|\.tgz|\.tar|\.zip)$/i.exec(new URL(asset.url).pathname)?.[1]?.toLowerCase() ?? '.tar.gz';
  const final = join(dir, `${asset.sha256}${ext}`);
  const part = `${final}.part`;
  const finalSize = (await stat(final).catch(() => null))?.size;
  if (finalSize !== undefined && (asset.size === undefined || finalSize === asset.size) && (await sha256File(final)) === asset.sha256)
    return final;
  // Unknown until a response says (Content-Length, Content-Range) when the caller knows only the digest.
  let total = asset.size;
  let lastError = '';
  // SHA-256 of what the .part holds, kept up while writing: a 2 GB download is not read back to verify it.
  let hashed: { hash: Hash; bytes: number } | null = null;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const have = (await stat(part).catch(() => null))?.size ?? 0;
    if (total !== undefined && have > total) await unlink(part);
    const from = total !== undefined && have > total ? 0 : have;
    if (from === total) break;
    let res: Got;
    try {
      res = await get(asset.url, from > 0 ? { range: `bytes=${from}-` } : {}, opts, false);
    } catch (e) {
      lastError = (e as Error).message;
      onEvent?.({ type: 'download-retry', url: asset.url, attempt, reason: lastError });
      await new Promise((r) => setTimeout(r, 100 * attempt));
      continue;
    }
    if (res.status === 404 || res.status === 410 || res.status === 403 || res.status === 401) {
      res.body.resume();
      throw fetchError(`${asset.url}: HTTP ${res.status}`, 'The feed names a file the server does not have; tell the publisher.', {
        status: res.status,
        url: asset.url,
      });
    }
    if (res.status !== 200 && res.status !== 206) {
      res.body.resume();
      lastError = `HTTP ${res.status}`;
      onEvent?.({ type: 'download-retry', url: asset.url, attempt, reason: lastError });
      continue;
    }
    const resume = res.status === 206 && from > 0;
    total ??= totalFromHeaders(res);
    if (!resume) hashed = { hash: createHash('sha256'), bytes: 0 };
    else if (hashed?.bytes !== from) hashed = await hashPrefix(part, from);
    const running = hashed;
    const fh = await open(part, resume ? 'a' : 'w');
    let received = resume ? from : 0;
    try {
      for await (const c of res.body) {
        received += (c as Buffer).length;
        if (total !== undefined && received > total)
          throw errors.hashMismatchError({
            message: `${asset.url} is larger than the ${total} bytes ${asset.size !== undefined ? 'the feed declares' : 'the server announced'}`,
            hint: 'The download does not match the feed; tell the publisher.',
            phase: 'fetch',
            changed: false,
          });
        await fh.write(c as Buffer);
        running.hash.update(c as Buffer);
        running.bytes += (c as Buffer).length;
        onEvent?.({
          type: 'download',
          url: asset.url,
          receivedBytes: received,
          totalBytes: total ?? 0,
          ...(resume ? { resumedFrom: from } : {}),
        });
      }
      await fh.sync();
    } catch (e) {
      await fh.close();
      if (e instanceof LlmUpgradeError) {
        await unlink(part).catch(() => undefined);
        throw e;
      }
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOSPC' || code === 'EDQUOT') {
        res.body.destroy();
        // A full disk is not the network: no retry. The part stays for a resume once there is room.
        throw errors.diskFullError({
          message: `disk full writing ${part} (${received} of ${total ?? 'unknown'} bytes of ${asset.url})`,
          hint: `Free space on the volume of ${dir} and run the command again; the download resumes.`,
          phase: 'fetch',
          changed: false,
          details: { path: part, url: asset.url },
        });
      }
      lastError = (e as Error).message;
      onEvent?.({ type: 'download-retry', url: asset.url, attempt, reason: lastError });
      continue;
    }
    await fh.close();
    if (total !== undefined && received < total) {
      lastError = `connection closed after ${received} of ${total} bytes`;
      onEvent?.({ type: 'download-retry', url: asset.url, attempt, reason: lastError });
      continue;
    }
    break;
  }
  const size = (await stat(part).catch(() => null))?.size ?? 0;
  if (total !== undefined ? size !== total : lastError !== '' && size === 0)
    throw fetchError(
      `${asset.url}: download incomplete after ${attempts} attempts (${size} of ${total ?? 'unknown'} bytes; last error: ${lastError})`,
      'Run the command again; the download resumes where it stopped.',
    );
  const sum = hashed?.bytes === size ? hashed.hash.digest('hex') : await sha256File(part);
  if (sum !== asset.sha256) {
    await unlink(part).catch(() => undefined);
    throw new LlmUpgradeError({
      code: asset.size === undefined ? 'ERR_BAD_CHECKSUM' : 'ERR_HASH_MISMATCH',
      message: `${asset.url}: SHA-256 ${sum} differs from the ${asset.size === undefined ? 'expected' : "feed's"} ${asset.sha256}`,
      hint: 'The download was altered or the feed is wrong; do not install it.',
      phase: 'fetch',
      changed: false,
      details: { url: asset.url, sha256: sum, expectedSha256: asset.sha256 },
    });
  }
  await rename(part, final);
  return final;
}

export interface CheckOptions extends FetchOptions {
  feedUrl: string;
  roots: string[];
  platform?: string;
}

export interface CheckResult {
  ok: true;
  feed: string;
  platform: string;
  installed: string | null;
  latest: { version: string; url: string; size: number; sha256: string } | null;
  updateAvailable: boolean;
}

/** `check --feed URL`: the newest release for this platform against what is installed. */
export async function checkFeed(opts: CheckOptions): Promise<CheckResult> {
  const platform = opts.platform ?? platformKey();
  const feed = await fetchFeed(opts.feedUrl, {
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.allowInsecureRedirect ? { allowInsecureRedirect: true } : {}),
  });
  const top = newestFor(feed, platform);
  const installed = opts.roots.length ? await readInstalledState(opts.roots) : null;
  return {
    ok: true,
    feed: feed.name,
    platform,
    installed: installed?.version ?? null,
    latest: top ? { version: top.version, ...top.asset } : null,
    updateAvailable: top !== null && (installed === null || semver.gt(top.version, installed.version)),
  };
}
