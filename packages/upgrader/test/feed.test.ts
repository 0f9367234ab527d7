import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestKit } from '@llm-upgrade/testkit';
import { ensureBuilt, makeProductDir, runCli, treeDigest } from './helpers.js';

// A real HTTP server on 127.0.0.1: a feed with relative URLs, Range requests, a connection
// dropped midway, a 404 and a wrong hash.
const kit = new TestKit();
let base: string;
let server: http.Server;
let url: string;
const files = new Map<string, Buffer>();
const requests: { path: string; range?: string }[] = [];
let dropNextDownload = false;
let v1Src: string;
let v2Src: string;

const platform = `${process.platform}-${process.arch}`;

beforeAll(async () => {
  ensureBuilt();
  base = await kit.makeTempDir('llm-upgrade-feed-');
  v1Src = await makeProductDir(join(base, 'v1'), '1.0.0');
  v2Src = await makeProductDir(join(base, 'v2'), '2.0.0', { 'lib/big.bin': randomBytes(2 * 1024 * 1024).toString('base64') });
  const p1 = join(base, 'v1.tar.gz');
  const p2 = join(base, 'v2.zip');
  const r1 = await runCli(['pack', v1Src, '--name', 'tool', '--version', '1.0.0', '--smoke', 'bin/tool --version', '--out', p1, '--json']);
  const r2 = await runCli(['pack', v2Src, '--name', 'tool', '--version', '2.0.0', '--smoke', 'bin/tool --version', '--out', p2, '--json']);
  files.set('/rel/v1.tar.gz', await readFile(p1));
  files.set('/rel/pkgs/v2.zip', await readFile(p2));
  const feed = (v2: { url: string; sha256?: string }) =>
    Buffer.from(
      JSON.stringify({
        name: 'tool',
        releases: [
          { version: '1.0.0', platforms: { [platform]: { url: 'v1.tar.gz', size: r1.json.size, sha256: r1.json.sha256 } } },
          { version: '2.0.0', platforms: { [platform]: { url: v2.url, size: r2.json.size, sha256: v2.sha256 ?? r2.json.sha256 } } },
          { version: '9.0.0', platforms: { 'plan9-mips': { url: 'nope.tar.gz', size: 1, sha256: '0'.repeat(64) } } },
        ],
      }),
    );
  files.set('/rel/feed.json', feed({ url: 'pkgs/v2.zip' }));
  files.set('/rel/feed-404.json', feed({ url: 'pkgs/missing.zip' }));
  files.set('/rel/feed-badhash.json', feed({ url: 'pkgs/v2.zip', sha256: 'ab'.repeat(32) }));
  server = http.createServer((req, res) => {
    const path = new URL(req.url!, 'http://x').pathname;
    requests.push({ path, ...(req.headers.range ? { range: req.headers.range } : {}) });
    const body = files.get(path);
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m) {
      const from = Number(m[1]);
      res.writeHead(206, { 'content-length': body.length - from, 'content-range': `bytes ${from}-${body.length - 1}/${body.length}` });
      res.end(body.subarray(from));
      return;
    }
    res.writeHead(200, { 'content-length': body.length });
    if (path.endsWith('.zip') && dropNextDownload) {
      dropNextDownload = false;
      // Half the body, then the connection dies.
      res.write(body.subarray(0, Math.floor(body.length / 2)), () => setTimeout(() => req.socket.destroy(), 50));
      return;
    }
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/rel`;
}, 120_000);

afterAll(async () => {
  server?.close();
  await kit.cleanup();
});

describe('release feed', () => {
  it('check --feed reports the newest release for this platform', async () => {
    const root = join(base, 'r-check');
    expect((await runCli(['apply', join(base, 'v1.tar.gz'), '--install-dir', root])).code).toBe(0);
    const r = await runCli(['check', '--feed', `${url}/feed.json`, '--install-dir', root, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ ok: true, feed: 'tool', platform, installed: '1.0.0', updateAvailable: true });
    expect(r.json.latest.version).toBe('2.0.0');
    expect(r.json.latest.url).toBe(`${url}/pkgs/v2.zip`);
  });

  it('apply --feed resumes a download dropped midway with a Range request', async () => {
    const root = join(base, 'r-feed');
    expect((await runCli(['apply', join(base, 'v1.tar.gz'), '--install-dir', root])).code).toBe(0);
    requests.length = 0;
    dropNextDownload = true;
    const r = await runCli(['apply', '--feed', `${url}/feed.json`, '--install-dir', root, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json).toMatchObject({ from: '1.0.0', to: '2.0.0' });
    const downloads = requests.filter((q) => q.path === '/rel/pkgs/v2.zip');
    expect(downloads.length).toBe(2);
    expect(downloads[0]!.range).toBeUndefined();
    expect(downloads[1]!.range).toMatch(/^bytes=[1-9]\d*-$/);
    expect(await treeDigest(root, { skipState: true })).toBe(await treeDigest(v2Src));
    // The download is gone once installed.
    const again = await runCli(['apply', '--feed', `${url}/feed.json`, '--install-dir', root, '--json']);
    expect(again.json).toMatchObject({ noop: true });
  });

  it('a 404 for the package is exit 2 and leaves the install untouched', async () => {
    const root = join(base, 'r-404');
    expect((await runCli(['apply', join(base, 'v1.tar.gz'), '--install-dir', root])).code).toBe(0);
    const before = await treeDigest(root);
    const r = await runCli(['apply', '--feed', `${url}/feed-404.json`, '--install-dir', root, '--json']);
    expect(r.code).toBe(2);
    expect(r.json.error.code).toBe('ERR_FETCH');
    expect(r.json.error.message).toContain('404');
    expect(await treeDigest(root)).toBe(before);
  });

  it('a feed that is not there is exit 2', async () => {
    const r = await runCli(['check', '--feed', `${url}/no-feed.json`, '--json']);
    expect(r.code).toBe(2);
    expect(r.json.error.code).toBe('ERR_FETCH');
  });

  it('a download whose SHA-256 differs from the feed is exit 2, install untouched, download deleted', async () => {
    const root = join(base, 'r-badhash');
    expect((await runCli(['apply', join(base, 'v1.tar.gz'), '--install-dir', root])).code).toBe(0);
    const before = await treeDigest(root);
    const r = await runCli(['apply', '--feed', `${url}/feed-badhash.json`, '--install-dir', root, '--json']);
    expect(r.code).toBe(2);
    expect(r.json.error.code).toBe('ERR_HASH_MISMATCH');
    expect(await treeDigest(root)).toBe(before);
  });

  it('--dry-run with a feed downloads nothing', async () => {
    const root = join(base, 'r-dry');
    expect((await runCli(['apply', join(base, 'v1.tar.gz'), '--install-dir', root])).code).toBe(0);
    const before = await treeDigest(root);
    requests.length = 0;
    const r = await runCli(['apply', '--feed', `${url}/feed.json`, '--install-dir', root, '--dry-run', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ dryRun: true, from: '1.0.0', to: '2.0.0', changed: false });
    expect(requests.map((q) => q.path)).toEqual(['/rel/feed.json']);
    expect(await treeDigest(root)).toBe(before);
  });
});
