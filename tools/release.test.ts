import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  identityOf,
  runningUnder,
  runProcess as run,
  sh,
  TestKit,
  versionAt,
  type ProcessRun as Run,
} from '@llm-upgrade/testkit';

// The release pipeline end to end on the sample app: a throwaway code-signing certificate and
// Ed25519 manifest key made here, `npm run release` run once (beforeAll) and shared, its output
// served over HTTP on 127.0.0.1 and consumed by `llm-upgrade apply --feed` on a running v1 install.
const REPO = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(REPO, 'packages/upgrader/dist/cli/main.js');
const V1 = '1.0.0';
const VERSION = '1.1.0';
const NAME = 'sample-app';
const ARCHIVE = `${NAME}-${VERSION}-linux-x64.tar.gz`;
const MSI = `${NAME}-${VERSION}-win32-x64.msi`;
const SETUP = `${NAME}-${VERSION}-win32-x64-setup.exe`;
const INNO = `${NAME}-${VERSION}-win32-x64-inno-setup.exe`;
const ZIP = `${NAME}-${VERSION}-win32-x64.zip`;
const UPGRADER = 'llm-upgrade-win32-x64.exe';

const kit = new TestKit();
let base: string;
let channel: string;
let outDir: string;
let cert: { p12: string; pem: string; otherPem: string };
let signKey: string;
let first: Run;
let summary: Summary;
let server: http.Server;
let url: string;
/** Served instead of the files in outDir, by URL path. */
const routes = new Map<string, Buffer>();

interface Artifact {
  name: string;
  size: number;
  sha256: string;
  kind: string;
  signed: boolean | null;
  signature: string | null;
}
interface Summary {
  version: string;
  artifacts: Artifact[];
  installerParts: { name: string; in: string; signed: boolean; copy: string | null; sha256: string | null }[];
  payloadFiles: { platform: string; file: string; signed: boolean; signature: string | null; sha256: string }[];
  unsigned: string[];
  feed: { versions: string[]; channel: string | null };
  steps: { step: string; ms: number; skipped: boolean }[];
  warnings: string[];
}
interface Feed {
  name: string;
  releases: { version: string; platforms: Record<string, { url: string; size: number; sha256: string }> }[];
}

/** The environment without any signing setting the CI machine might have. */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  for (const k of ['WINDOWS_CERTIFICATE_FILE', 'WINDOWS_CERTIFICATE_PASSWORD', 'WINDOWS_TIMESTAMP_URL', 'LLM_UPGRADE_SIGN_KEY'])
    delete env[k];
  return { ...env, ...extra };
}

function release(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return run(process.execPath, [join(REPO, 'tools/release.mjs'), ...args], { cwd: REPO, env, timeoutMs: 480_000 });
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const shaOfFile = async (f: string) => sha256(await readFile(f));

async function makeCertificate(dir: string, cn: string): Promise<{ p12: string; pem: string }> {
  const key = join(dir, `${cn}.key`);
  const pem = join(dir, `${cn}.pem`);
  const p12 = join(dir, `${cn}.p12`);
  await sh('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:3072',
    '-nodes',
    '-addext',
    'extendedKeyUsage=codeSigning',
    '-subj',
    `/CN=${cn}`,
    '-days',
    '2',
    '-keyout',
    key,
    '-out',
    pem,
  ]);
  await sh('openssl', ['pkcs12', '-export', '-inkey', key, '-in', pem, '-out', p12, '-passout', 'pass:test-password']);
  return { p12, pem };
}

async function osslVerify(file: string, caPem: string): Promise<boolean> {
  return sh('osslsigncode', ['verify', '-CAfile', caPem, '-in', file]).then(
    () => true,
    () => false,
  );
}

/** Every entry under dir (type, mode, content hash or link target) as one comparable string. */
async function treeDigest(dir: string): Promise<string> {
  const lines: string[] = [];
  const visit = async (rel: string): Promise<void> => {
    for (const name of (await readdir(rel ? join(dir, rel) : dir)).sort()) {
      const p = rel ? `${rel}/${name}` : name;
      const st = await lstat(join(dir, p));
      if (st.isDirectory()) {
        lines.push(`d ${p} ${(st.mode & 0o7777).toString(8)}`);
        await visit(p);
      } else if (st.isSymbolicLink()) lines.push(`l ${p} -> ${await readlink(join(dir, p))}`);
      else lines.push(`f ${p} ${(st.mode & 0o7777).toString(8)} ${sha256(await readFile(join(dir, p)))}`);
    }
  };
  await visit('');
  return lines.join('\n');
}

/** A v1 install (the testkit's sample install) with its server and one engine running, and a profile that restarts and health-checks it. */
async function runningV1(label: string): Promise<{ root: string; port: number; profile: string; old: number[] }> {
  const inst = await kit.makeSampleInstall({ version: V1, base: join(base, `install-${label}`) });
  const port = await freePort();
  const profile = join(base, `profile-${label}.json`);
  await writeFile(
    profile,
    JSON.stringify({
      name: 'sample-app',
      processes: { supervisor: [], server: ['ollama'], engine: ['llama-server'] },
      startCommand: ['bin/ollama', 'serve', '--port', String(port), '--engines', '1'],
      healthUrl: `http://127.0.0.1:${port}/api/version`,
    }),
  );
  const tree = await kit.spawnTree(inst.bin, ['serve', '--port', String(port), '--engines', '1', '--', '--model', inst.model]);
  expect(await versionAt(port)).toBe(V1);
  return { root: inst.root, port, profile, old: [tree.pid, ...tree.ready!.engines] };
}

function apply(feedUrl: string, root: string, profile: string, extra: string[] = []): Promise<Run & { json: any }> {
  return run(
    process.execPath,
    [CLI, 'apply', '--feed', feedUrl, '--install-dir', root, '--profile', profile, '--grace', '2s', '--timeout', '20s', '--json', ...extra],
    { env: cleanEnv(), timeoutMs: 120_000 },
  ).then((r) => {
    let json: any;
    try {
      json = JSON.parse(r.stdout);
    } catch {
      json = undefined;
    }
    return { ...r, json };
  });
}

/** The tar entries of a .tar.gz: name, header offset, data offset, size (ustar, short names). */
function tarEntries(tar: Buffer): { name: string; data: number; size: number }[] {
  const out: { name: string; data: number; size: number }[] = [];
  for (let off = 0; off + 512 <= tar.length; ) {
    const header = tar.subarray(off, off + 512);
    if (header.every((b) => b === 0)) break;
    const name = header.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
    const prefix = header.subarray(345, 500).toString('utf8').replace(/\0.*$/s, '');
    const size = parseInt(header.subarray(124, 136).toString('utf8').replace(/\0.*$/s, '').trim() || '0', 8);
    out.push({ name: prefix ? `${prefix}/${name}` : name, data: off + 512, size });
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

function flipByte(b: Buffer, at: number): void {
  b.writeUInt8(b.readUInt8(at) ^ 0x01, at);
}

/** Serves a tampered archive under /<variant>/ with a feed that names it (feedMatches: the feed's size and hash follow the tampering). */
async function serveVariant(variant: string, archive: Buffer, feedMatches: boolean): Promise<string> {
  const feed = JSON.parse(await readFile(join(outDir, 'feed.json'), 'utf8')) as Feed;
  if (feedMatches) {
    const entry = feed.releases.find((r) => r.version === VERSION)!.platforms['linux-x64']!;
    entry.size = archive.length;
    entry.sha256 = sha256(archive);
  }
  routes.set(`/${variant}/feed.json`, Buffer.from(JSON.stringify(feed)));
  routes.set(`/${variant}/${ARCHIVE}`, archive);
  return `${url}/${variant}/feed.json`;
}

beforeAll(async () => {
  base = await kit.makeTempDir('llm-upgrade-release-');
  channel = join(base, 'channel');
  outDir = join(channel, VERSION);
  const c = await makeCertificate(base, 'llm-upgrade-test-signing');
  const other = await makeCertificate(base, 'someone-else');
  cert = { p12: c.p12, pem: c.pem, otherPem: other.pem };
  signKey = join(base, 'manifest-key.pem');
  await sh('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', signKey]);
  // An older release already published on the channel: the new feed must keep listing it.
  await sh('mkdir', ['-p', channel]);
  await writeFile(
    join(channel, 'feed.json'),
    JSON.stringify({
      name: NAME,
      releases: [
        { version: V1, platforms: { 'linux-x64': { url: `${V1}/${NAME}-${V1}-linux-x64.tar.gz`, size: 1234, sha256: 'ab'.repeat(32) } } },
      ],
    }),
  );

  first = await release(
    ['--version', VERSION, '--out', outDir, '--sign-key', signKey],
    cleanEnv({ WINDOWS_CERTIFICATE_FILE: cert.p12, WINDOWS_CERTIFICATE_PASSWORD: 'test-password' }),
  );
  if (first.code !== 0) throw new Error(`release failed (exit ${first.code}):\n${first.stderr}\n${first.stdout}`);
  summary = JSON.parse(await readFile(join(outDir, 'summary.json'), 'utf8')) as Summary;

  server = http.createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const body = routes.get(path);
    if (body) {
      res.writeHead(200, { 'content-length': body.length });
      res.end(body);
      return;
    }
    const file = join(outDir, path);
    if (path.includes('..') || !existsSync(file)) {
      res.writeHead(404);
      res.end();
      return;
    }
    readFile(file).then(
      (b) => {
        res.writeHead(200, { 'content-length': b.length });
        res.end(b);
      },
      () => {
        res.writeHead(500);
        res.end();
      },
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}, 600_000);

afterAll(async () => {
  if (server) await new Promise((r) => server.close(r));
  if (base) for (const pid of runningUnder(base)) kit.track(pid);
  await kit.cleanup();
});

describe('npm run release (signed, with manifest key)', () => {
  it('exits 0 and ends with the artifact table; summary.json and SHA256SUMS agree with the files', async () => {
    const names = summary.artifacts.map((a) => a.name);
    for (const n of [
      ARCHIVE,
      ZIP,
      MSI,
      SETUP,
      INNO,
      UPGRADER,
      'llm-upgrade-linux-x64',
      'llm-upgrade-core-0.1.0.tgz',
      'llm-upgrade-installer-hooks-0.1.0.tgz',
      `${NAME}-manifest-key.pub.pem`,
    ]) {
      expect(names).toContain(n);
    }
    expect(names.some((n) => /^llm-upgrade-\d+\.\d+\.\d+\.tgz$/.test(n))).toBe(true);
    for (const a of summary.artifacts) {
      expect(first.stdout).toContain(a.name);
      expect(first.stdout).toContain(a.sha256);
      expect(await shaOfFile(join(outDir, a.name))).toBe(a.sha256);
    }
    for (const n of [UPGRADER, MSI, SETUP, INNO])
      expect(summary.artifacts.find((a) => a.name === n)).toMatchObject({ signed: true, signature: 'authenticode' });
    expect(summary.artifacts.find((a) => a.name === ARCHIVE)).toMatchObject({ signed: true, signature: 'ed25519 manifest' });
    expect(summary.unsigned).toEqual([]);
    expect(first.stderr).toMatch(/\[\d\/9\] build installers/);
    // sha256sum -c: every line of SHA256SUMS names a file here with that hash.
    const check = await run('sha256sum', ['-c', 'SHA256SUMS'], { cwd: outDir });
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout.trim().split('\n')).toHaveLength(summary.artifacts.length);
  });

  it('osslsigncode verify -CAfile passes for the upgrader, the MSI, both installers and their uninstallers, and fails against another CA', async () => {
    const uninstaller = summary.installerParts.find((p) => p.name === 'uninstall.exe')!;
    expect(uninstaller).toMatchObject({ in: SETUP, signed: true });
    const innoUninstaller = summary.installerParts.find((p) => p.name === 'unins000.exe')!;
    expect(innoUninstaller).toMatchObject({ in: INNO, signed: true });
    const files = [UPGRADER, MSI, SETUP, uninstaller.copy!, INNO, innoUninstaller.copy!].map((f) => join(outDir, f));
    for (const f of files) expect(await osslVerify(f, cert.pem), f).toBe(true);
    for (const f of files) expect(await osslVerify(f, cert.otherPem), f).toBe(false);
  });

  it('every PE file of the Windows payload is signed before packaging: the summary lists each, and the zip carries the signed bytes', async () => {
    expect(summary.payloadFiles.map((f) => f.file)).toEqual(['lib/ollama/llama-server.exe', 'ollama.exe']);
    const unzipDir = join(base, 'unzipped');
    await sh('unzip', ['-q', '-o', join(outDir, ZIP), '-d', unzipDir]);
    for (const f of summary.payloadFiles) {
      expect(f).toMatchObject({ platform: 'win32-x64', signed: true, signature: 'authenticode' });
      const shipped = join(unzipDir, f.file);
      expect(await shaOfFile(shipped)).toBe(f.sha256);
      expect(await osslVerify(shipped, cert.pem), f.file).toBe(true);
    }
    expect(first.stdout).toMatch(/payload win32-x64 ollama\.exe: signed/);
  });

  it('the MSI carries the hooks: CustomAction rows of type 66 and 3074 that run stop, from the signed upgrader in the Binary table', async () => {
    const msi = join(outDir, MSI);
    const rows = (await sh('msiinfo', ['export', msi, 'CustomAction']))
      .split(/\r?\n/)
      .slice(3)
      .filter(Boolean)
      .map((l) => l.split('\t'));
    const byType = new Map(rows.map((r) => [Number(r[1]), r]));
    for (const type of [66, 3074]) {
      const row = byType.get(type);
      expect(row, `no CustomAction of type ${type} in ${rows.map((r) => r.join(' ')).join('; ')}`).toBeDefined();
      expect(row![2]).toBe('LlmUpgradeExe');
      // The app's description (examples/sample-app/app.json) reaches the command line: its log file and upgraderArgs.
      expect(row![3]).toMatch(
        /^stop --install-dir "\[INSTALLDIR\]\." --log-file "\[TempFolder\]llm-upgrade-sample-app\.log" --yes --grace 5s --timeout 60s( |$)/,
      );
    }
    const sequence = await sh('msiinfo', ['export', msi, 'InstallExecuteSequence']);
    for (const action of byType.values()) expect(sequence).toContain(action[0]);
    const binary = await new Promise<Buffer>((resolve, reject) =>
      execFile('msiinfo', ['extract', msi, 'Binary.LlmUpgradeExe'], { encoding: 'buffer', maxBuffer: 256 << 20 }, (e, out) =>
        e ? reject(e) : resolve(out),
      ),
    );
    expect(sha256(binary)).toBe(summary.artifacts.find((a) => a.name === UPGRADER)!.sha256);
  });

  it('feed.json lists this release with relative URLs and keeps the older release of the channel feed', async () => {
    const feed = JSON.parse(await readFile(join(outDir, 'feed.json'), 'utf8')) as Feed;
    expect(feed.name).toBe(NAME);
    expect(feed.releases.map((r) => r.version)).toEqual([VERSION, V1]);
    const archive = summary.artifacts.find((a) => a.name === ARCHIVE)!;
    const zip = summary.artifacts.find((a) => a.name === `${NAME}-${VERSION}-win32-x64.zip`)!;
    expect(feed.releases[0]!.platforms).toEqual({
      'linux-x64': { url: ARCHIVE, size: archive.size, sha256: archive.sha256 },
      'win32-x64': { url: zip.name, size: zip.size, sha256: zip.sha256 },
    });
    expect(feed.releases[1]!.platforms['linux-x64']!.url).toBe(`../${V1}/${NAME}-${V1}-linux-x64.tar.gz`);
    const channelFeed = JSON.parse(await readFile(join(channel, 'feed.json'), 'utf8')) as Feed;
    expect(channelFeed.releases.map((r) => r.version)).toEqual([VERSION, V1]);
    expect(channelFeed.releases[0]!.platforms['linux-x64']!.url).toBe(`${VERSION}/${ARCHIVE}`);
  });

  it('apply --feed over HTTP upgrades a running v1 install to the release, health-checked, no old process left', async () => {
    const { root, port, profile, old } = await runningV1('ok');
    const r = await apply(`${url}/feed.json`, root, profile, ['--public-key', join(outDir, `${NAME}-manifest-key.pub.pem`)]);
    for (const pid of runningUnder(base)) kit.track(pid);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json).toMatchObject({ ok: true, from: V1, to: VERSION, phase: 'commit', rolledBack: false, healthy: true, signed: true });
    expect(await versionAt(port)).toBe(VERSION);
    for (const pid of old) expect(identityOf(pid), `old pid ${pid}`).toBeNull();
    const now = runningUnder(root);
    expect(now.length).toBeGreaterThan(0);
    expect(now.some((pid) => old.includes(pid))).toBe(false);
    const installed = JSON.parse(await readFile(join(root, '.llm-upgrade', 'installed.json'), 'utf8')) as { name: string; version: string };
    expect(installed).toMatchObject({ name: NAME, version: VERSION });
    expect(await shaOfFile(join(root, 'bin', 'ollama'))).toBe(
      await shaOfFile(join(outDir, '.work', 'payload', 'linux-x64', 'bin', 'ollama')),
    );
  });

  describe('a tampered artifact is refused: exit 2, the install byte for byte untouched, its server still running', () => {
    let v1: Awaited<ReturnType<typeof runningV1>>;
    let before: string;
    let pristine: Buffer;
    beforeAll(async () => {
      v1 = await runningV1('tampered');
      before = await treeDigest(v1.root);
      pristine = await readFile(join(outDir, ARCHIVE));
    });
    const expectUntouched = async () => {
      expect(await treeDigest(v1.root)).toBe(before);
      expect(await versionAt(v1.port)).toBe(V1);
      for (const pid of v1.old) expect(identityOf(pid), `pid ${pid}`).not.toBeNull();
    };

    it('one byte of the archive changed: its SHA-256 differs from the feed', async () => {
      const bad = Buffer.from(pristine);
      flipByte(bad, bad.length >> 1);
      const r = await apply(await serveVariant('flipped', bad, false), v1.root, v1.profile);
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(r.json.error).toMatchObject({ code: 'ERR_HASH_MISMATCH', changed: false });
      await expectUntouched();
    });

    it('one byte of bin/ollama changed and the feed rewritten to match: the manifest hash refuses it', async () => {
      const tar = gunzipSync(pristine);
      const entry = tarEntries(tar).find((e) => e.name === 'bin/ollama')!;
      flipByte(tar, entry.data + (entry.size >> 1));
      const r = await apply(await serveVariant('binary', gzipSync(tar), true), v1.root, v1.profile);
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(r.json.error.changed).toBe(false);
      expect(r.json.error.code).toMatch(/^ERR_(HASH_MISMATCH|BAD_PACKAGE)$/);
      await expectUntouched();
    });

    it('bin/ollama, its manifest hash and the feed all rewritten: the Ed25519 signature refuses it', async () => {
      const tar = gunzipSync(pristine);
      const entries = tarEntries(tar);
      const bin = entries.find((e) => e.name === 'bin/ollama')!;
      const manifest = entries.find((e) => e.name === 'llm-upgrade.json')!;
      const oldSha = sha256(tar.subarray(bin.data, bin.data + bin.size));
      flipByte(tar, bin.data + (bin.size >> 1));
      const newSha = sha256(tar.subarray(bin.data, bin.data + bin.size));
      const text = tar.subarray(manifest.data, manifest.data + manifest.size).toString('utf8');
      expect(text).toContain(oldSha);
      tar.write(text.replace(oldSha, newSha), manifest.data, 'utf8');
      const r = await apply(await serveVariant('resigned', gzipSync(tar), true), v1.root, v1.profile, [
        '--public-key',
        join(outDir, `${NAME}-manifest-key.pub.pem`),
      ]);
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(r.json.error).toMatchObject({ code: 'ERR_SIGNATURE', changed: false });
      await expectUntouched();
    });
  });

  it('a re-run reuses the unchanged steps and reproduces every archive and signed artifact byte for byte', async () => {
    // Other work may rebuild out/sea between the two runs; the executables and what embeds them
    // must then differ, and only the archives (made from the payload alone) stay comparable.
    const seaBefore = await readFile(join(REPO, 'out/sea/manifest.json'), 'utf8');
    const again = await release(
      ['--version', VERSION, '--out', outDir, '--sign-key', signKey],
      cleanEnv({ WINDOWS_CERTIFICATE_FILE: cert.p12, WINDOWS_CERTIFICATE_PASSWORD: 'test-password' }),
    );
    expect(again.code, again.stderr).toBe(0);
    const second = JSON.parse(await readFile(join(outDir, 'summary.json'), 'utf8')) as Summary;
    const hashes = (s: Summary, kinds?: string[]) =>
      Object.fromEntries(s.artifacts.filter((a) => !kinds || kinds.includes(a.kind)).map((a) => [a.name, a.sha256]));
    expect(hashes(second, ['archive', 'public-key'])).toEqual(hashes(summary, ['archive', 'public-key']));
    expect(Object.keys(hashes(second, ['archive']))).toHaveLength(2);
    const seaUnchanged = seaBefore === (await readFile(join(REPO, 'out/sea/manifest.json'), 'utf8'));
    if (seaUnchanged) {
      expect(hashes(second)).toEqual(hashes(summary));
      const skipped = second.steps.filter((s) => s.skipped).map((s) => s.step);
      expect(skipped).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/single executables/),
          expect.stringMatching(/Windows upgrader/),
          expect.stringMatching(/installers/),
        ]),
      );
      expect(again.stderr).toMatch(/↺ \[\d\/9\] build installers/);
    } else console.warn('out/sea was rebuilt from changed sources between the runs: only the archives were compared');
  });
});

describe('npm run release without a certificate', () => {
  it('exits 0 with a warning, and the Windows artifacts are built and marked unsigned', async () => {
    const out = join(base, 'unsigned', VERSION);
    // The packages and single executables were built by the signed run above.
    const r = await release(['--version', VERSION, '--out', out, '--skip-build'], cleanEnv());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/WARNING: no code-signing certificate/);
    expect(r.stdout).toMatch(/WARNING: unsigned Windows artifacts/);
    const s = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8')) as Summary;
    for (const n of [UPGRADER, MSI, SETUP, INNO]) {
      expect(s.artifacts.find((a) => a.name === n)).toMatchObject({ signed: false });
      expect(s.unsigned).toContain(n);
      expect(await osslVerify(join(out, n), cert.pem)).toBe(false);
    }
    expect(s.installerParts.find((p) => p.name === 'uninstall.exe')).toMatchObject({ in: SETUP, signed: false });
    expect(s.installerParts.find((p) => p.name === 'unins000.exe')).toMatchObject({ in: INNO, signed: false });
    expect(s.payloadFiles.every((f) => !f.signed)).toBe(true);
    expect(s.unsigned).toContain('ollama.exe (payload win32-x64)');
    expect(s.warnings.some((w) => /no code-signing certificate/.test(w))).toBe(true);
    expect(s.artifacts.find((a) => a.name === ARCHIVE)!.signed).toBeNull();
  });
});

describe('npm run release refuses bad input before building anything (exit 2)', () => {
  it.each([
    ['a version that is not semver', ['--version', '1.2'], {}, /not a semantic version/],
    ['an app dir without app.json', ['--app-dir', '/nonexistent-llm-upgrade-app'], {}, /app\.json not found/],
    [
      'a certificate file that does not exist',
      ['--version', VERSION],
      { WINDOWS_CERTIFICATE_FILE: '/nonexistent-llm-upgrade-cert.p12' },
      /WINDOWS_CERTIFICATE_FILE=.* does not exist/,
    ],
    [
      'a manifest key that does not exist',
      ['--version', VERSION, '--sign-key', '/nonexistent-llm-upgrade-key.pem'],
      {},
      /--sign-key .* does not exist/,
    ],
    ['an unknown option', ['--versoin', VERSION], {}, /Unknown option/],
  ])('%s', async (_what, args, env, message) => {
    const out = join(base, 'refused');
    const r = await release([...args, '--out', out], cleanEnv(env));
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });
});
