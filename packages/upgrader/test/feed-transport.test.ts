import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestKit } from '@llm-upgrade/testkit';
import { ensureBuilt, makeProductDir, runCli } from './helpers.js';

// Feed transport on real servers on 127.0.0.1: an https feed redirecting to plain http (a
// self-signed certificate trusted through NODE_EXTRA_CA_CERTS), a redirect that moves the feed
// (relative URLs follow it), a server that trickles, and a disk that fills while downloading.
const kit = new TestKit();
let base: string;
let plain: http.Server;
let secure: https.Server;
let httpUrl: string;
let httpsUrl: string;
let certFile: string;
const files = new Map<string, Buffer>();
const hits = new Map<string, number>();
const platform = `${process.platform}-${process.arch}`;
const timers = new Set<NodeJS.Timeout>();

function canMount(): boolean {
  const dir = mkdtempSync(join(tmpdir(), 'llm-upgrade-mount-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'pipe' });
    execFileSync('umount', [dir], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  } finally {
    rmdirSync(dir);
  }
}
const mountable = process.platform === 'linux' && canMount();
const mounts: string[] = [];

function handler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const path = new URL(req.url!, 'http://x').pathname;
  hits.set(path, (hits.get(path) ?? 0) + 1);
  if (path === '/to-http/feed.json') return void res.writeHead(302, { location: `${httpUrl}/new/feed.json` }).end();
  if (path === '/old/feed.json') return void res.writeHead(301, { location: '/new/feed.json' }).end();
  if (path === '/slow.json') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{');
    const t = setInterval(() => res.write(' '), 300);
    timers.add(t);
    res.on('close', () => clearInterval(t));
    return;
  }
  const body = files.get(path);
  if (!body) return void res.writeHead(404).end();
  res.writeHead(200, { 'content-length': body.length }).end(body);
}

const listen = (s: http.Server | https.Server) =>
  new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));

beforeAll(async () => {
  ensureBuilt();
  base = await kit.makeTempDir('llm-upgrade-feedtx-');
  const v1 = await makeProductDir(join(base, 'v1'), '1.0.0');
  const big = await makeProductDir(join(base, 'big'), '2.0.0');
  await writeFile(join(big, 'lib', 'big.bin'), randomBytes(2 * 1024 * 1024));
  const feedFor = async (dir: string, v: string, name: string) => {
    const out = join(base, name);
    const r = await runCli(['pack', dir, '--name', 'tool', '--version', v, '--smoke', 'bin/tool', '--out', out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    files.set(`/new/${name}`, await readFile(out));
    return { version: v, platforms: { [platform]: { url: name, size: r.json.size, sha256: r.json.sha256 } } };
  };
  files.set('/new/feed.json', Buffer.from(JSON.stringify({ name: 'tool', releases: [await feedFor(v1, '1.0.0', 'v1.tar.gz')] })));
  files.set('/new/big-feed.json', Buffer.from(JSON.stringify({ name: 'tool', releases: [await feedFor(big, '2.0.0', 'big.tar.gz')] })));
  certFile = join(base, 'cert.pem');
  const keyFile = join(base, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'pipe' },
  );
  plain = http.createServer(handler);
  secure = https.createServer({ key: await readFile(keyFile), cert: await readFile(certFile) }, handler);
  httpUrl = `http://127.0.0.1:${await listen(plain)}`;
  httpsUrl = `https://127.0.0.1:${await listen(secure)}`;
}, 120_000);

afterAll(async () => {
  for (const t of timers) clearInterval(t);
  plain?.closeAllConnections();
  secure?.closeAllConnections();
  await new Promise((r) => plain?.close(r));
  await new Promise((r) => secure?.close(r));
  for (const m of mounts.reverse()) {
    try {
      execFileSync('umount', [m]);
    } catch {
      execFileSync('umount', ['-l', m]);
    }
  }
  await kit.cleanup();
});

describe('feed transport', () => {
  it('an https feed redirecting to plain http is refused unless --allow-insecure-redirect', async () => {
    const env = { NODE_EXTRA_CA_CERTS: certFile };
    const ok = await runCli(['check', '--feed', `${httpsUrl}/new/feed.json`, '--json'], { env });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.json.latest.url).toBe(`${httpsUrl}/new/v1.tar.gz`);
    const before = hits.get('/new/feed.json') ?? 0;
    const r = await runCli(['check', '--feed', `${httpsUrl}/to-http/feed.json`, '--json'], { env });
    expect(r.code, r.stdout).toBe(2);
    expect(r.json.error.code).toBe('ERR_FETCH');
    expect(r.json.error.message).toContain('from https to plain http');
    expect(hits.get('/new/feed.json') ?? 0).toBe(before); // the http URL was never asked
    const root = join(base, 'insecure-root');
    const refused = await runCli(['apply', '--feed', `${httpsUrl}/to-http/feed.json`, '--install-dir', root, '--json'], { env });
    expect(refused.code).toBe(2);
    const allowed = await runCli(
      ['apply', '--feed', `${httpsUrl}/to-http/feed.json`, '--install-dir', root, '--allow-insecure-redirect', '--json'],
      { env },
    );
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(allowed.json.to).toBe('1.0.0');
  });

  it('relative asset URLs resolve against the URL the feed was finally served from', async () => {
    const root = join(base, 'moved-root');
    const r = await runCli(['apply', '--feed', `${httpUrl}/old/feed.json`, '--install-dir', root, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(JSON.parse(await readFile(join(root, '.llm-upgrade', 'installed.json'), 'utf8')).version).toBe('1.0.0');
    expect(hits.get('/old/v1.tar.gz')).toBeUndefined();
  });

  it('--timeout bounds a fetch end to end against a server that trickles', async () => {
    const t0 = Date.now();
    const r = await runCli(['check', '--feed', `${httpUrl}/slow.json`, '--timeout', '2s', '--json']);
    const took = Date.now() - t0;
    expect(r.code, r.stdout).toBe(2);
    expect(r.json.error.code).toBe('ERR_FETCH');
    expect(r.json.error.message).toContain('2000 ms');
    expect(took).toBeLessThan(8000);
  });

  it.skipIf(!mountable)('a disk that fills while downloading is ERR_DISK_FULL at once, not a network retry', async () => {
    const root = join(base, 'small-disk');
    mkdirSync(root);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', root]);
    mounts.push(root);
    const before = hits.get('/new/big.tar.gz') ?? 0;
    const r = await runCli(['apply', '--feed', `${httpUrl}/new/big-feed.json`, '--install-dir', root, '--json']);
    expect(r.code, r.stdout).toBe(2);
    expect(r.json.error.code).toBe('ERR_DISK_FULL');
    expect(r.json.error.phase).toBe('fetch');
    expect(r.json.error.changed).toBe(false);
    expect(r.stderr).not.toContain('retrying');
    expect((hits.get('/new/big.tar.gz') ?? 0) - before).toBe(1);
  });
});
