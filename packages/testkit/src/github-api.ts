// A GitHub releases API on 127.0.0.1 for tests: /repos/O/R/releases/latest, /releases/tags/T,
// /releases, and the assets themselves (browser_download_url, with Range), each asset with the
// `digest` GitHub reports. Optional: a required token, a rate limit, one dropped download.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Socket } from 'node:net';

export interface FakeAsset {
  name: string;
  /** The bytes, or a file to read them from. */
  data?: Buffer;
  file?: string;
  /** Override the `digest` field: a wrong one, or null to leave it out. Default: the real sha256. */
  digest?: string | null;
}

export interface FakeRelease {
  tag: string;
  prerelease?: boolean;
  draft?: boolean;
  assets: FakeAsset[];
}

export interface GithubApiOptions {
  owner: string;
  repo: string;
  /** Newest first, as GitHub lists them. */
  releases: FakeRelease[];
  /** Require `Authorization: Bearer <token>`: without it the repository is 404 (private), a wrong one 401. */
  token?: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  authorization: string | null;
  range: string | null;
}

export interface GithubApiServer {
  /** `http://127.0.0.1:PORT`: pass as --github-api. */
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** Replace the releases (a new version published). */
  setReleases(releases: FakeRelease[]): void;
  /** The next download of `asset` sends `afterBytes` bytes, then the connection is cut. */
  dropOnce(asset: string, afterBytes: number): void;
  /** Answer every API request with a rate-limit 403 (or 429) until called with null. */
  rateLimit(status: 403 | 429 | null): void;
  close(): Promise<void>;
}

interface Stored {
  release: FakeRelease;
  asset: FakeAsset;
  bytes: Buffer;
  sha256: string;
}

function bytesOf(a: FakeAsset): Buffer {
  if (a.data) return a.data;
  if (a.file) return readFileSync(a.file);
  throw new Error(`fake asset ${a.name} needs data or file`);
}

export async function startGithubApi(opts: GithubApiOptions): Promise<GithubApiServer> {
  let releases = opts.releases;
  let stored = new Map<string, Stored>();
  const index = () => {
    stored = new Map();
    for (const release of releases)
      for (const asset of release.assets) {
        const bytes = bytesOf(asset);
        stored.set(`${release.tag}/${asset.name}`, { release, asset, bytes, sha256: createHash('sha256').update(bytes).digest('hex') });
      }
  };
  index();
  const drops = new Map<string, number>();
  let limited: 403 | 429 | null = null;
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  let base = '';

  const releaseJson = (r: FakeRelease) => ({
    tag_name: r.tag,
    name: r.tag,
    draft: r.draft === true,
    prerelease: r.prerelease === true,
    assets: r.assets.map((a) => {
      const s = stored.get(`${r.tag}/${a.name}`)!;
      const digest = a.digest === undefined ? `sha256:${s.sha256}` : a.digest;
      return {
        name: a.name,
        size: s.bytes.length,
        browser_download_url: `${base}/download/${encodeURIComponent(r.tag)}/${encodeURIComponent(a.name)}`,
        ...(digest !== null ? { digest } : {}),
      };
    }),
  });

  const json = (res: ServerResponse, status: number, doc: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(doc));
  };

  const serveAsset = (req: IncomingMessage, res: ServerResponse, s: Stored) => {
    const total = s.bytes.length;
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const start = m ? Number(m[1]) : 0;
    const end = m?.[2] ? Math.min(Number(m[2]), total - 1) : total - 1;
    if (m && start >= total) {
      res.writeHead(416, { 'content-range': `bytes */${total}` });
      res.end();
      return;
    }
    const body = s.bytes.subarray(start, end + 1);
    res.writeHead(m ? 206 : 200, {
      'content-type': 'application/octet-stream',
      'content-length': String(body.length),
      'accept-ranges': 'bytes',
      ...(m ? { 'content-range': `bytes ${start}-${end}/${total}` } : {}),
    });
    const cut = drops.get(s.asset.name);
    if (cut !== undefined) {
      drops.delete(s.asset.name);
      res.write(body.subarray(0, Math.min(cut, body.length)), () => setTimeout(() => req.socket.destroy(), 50));
      return;
    }
    res.end(body);
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', base).pathname;
    requests.push({
      method: req.method ?? 'GET',
      path,
      authorization: req.headers.authorization ?? null,
      range: req.headers.range ?? null,
    });
    const dl = /^\/download\/([^/]+)\/([^/]+)$/.exec(path);
    if (dl) {
      const s = stored.get(`${decodeURIComponent(dl[1]!)}/${decodeURIComponent(dl[2]!)}`);
      if (!s) return json(res, 404, { message: 'Not Found' });
      return serveAsset(req, res, s);
    }
    if (limited) {
      return json(
        res,
        limited,
        { message: 'API rate limit exceeded' },
        { 'x-ratelimit-limit': '60', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600) },
      );
    }
    if (opts.token !== undefined) {
      const auth = req.headers.authorization;
      if (auth === undefined) return json(res, 404, { message: 'Not Found' });
      if (auth !== `Bearer ${opts.token}`) return json(res, 401, { message: 'Bad credentials' });
    }
    const prefix = `/repos/${opts.owner}/${opts.repo}/releases`;
    if (!path.startsWith(prefix)) return json(res, 404, { message: 'Not Found' });
    const rest = path.slice(prefix.length);
    if (rest === '' || rest === '/') return json(res, 200, releases.map(releaseJson));
    if (rest === '/latest') {
      const latest = releases.find((r) => !r.draft && !r.prerelease);
      return latest ? json(res, 200, releaseJson(latest)) : json(res, 404, { message: 'Not Found' });
    }
    const tag = /^\/tags\/(.+)$/.exec(rest);
    if (tag) {
      const r = releases.find((x) => x.tag === decodeURIComponent(tag[1]!) && !x.draft);
      return r ? json(res, 200, releaseJson(r)) : json(res, 404, { message: 'Not Found' });
    }
    return json(res, 404, { message: 'Not Found' });
  };

  const server: Server = createServer(handle);
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
  return {
    url: base,
    port,
    requests,
    setReleases(next) {
      releases = next;
      index();
    },
    dropOnce(asset, afterBytes) {
      drops.set(asset, afterBytes);
    },
    rateLimit(status) {
      limited = status;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
