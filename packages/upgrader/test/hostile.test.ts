import { generateKeyPairSync } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestKit } from '@llm-upgrade/testkit';
import { manifestEntry, manifestFor, rawTar, rawZip, writeTarGz, type CraftEntry, type CraftFile } from './craft.js';
import { ensureBuilt, makeProductDir, runCli, treeDigest } from './helpers.js';

// Every package here must be refused with exit 2, leaving the install byte-for-byte as it was
// (its .llm-upgrade state included) and nothing written outside the root.
const kit = new TestKit();
let base: string;
let outside: string;
let pkgDir: string;

const good: CraftFile[] = [
  { path: 'bin/tool', content: '#!/bin/sh\necho "tool version is 2.0.0"\n', mode: 0o755 },
  { path: 'lib/libcore.so', content: 'core 2.0.0\n' },
];
const goodEntries = (): CraftEntry[] => good.map((f) => ({ name: f.path, content: f.content, mode: f.mode ?? 0o644 }));

interface Case {
  name: string;
  /** Builds the package file; returns its path. */
  build: (file: string) => Promise<string>;
  code: string | RegExp;
  args?: string[];
}

const tarCase = (
  name: string,
  code: string | RegExp,
  entries: (outside: string) => CraftEntry[],
  manifest?: (m: Record<string, unknown>, outside: string) => Record<string, unknown> | null,
): Case => ({
  name,
  code,
  build: async (file) => {
    let m: Record<string, unknown> | null = manifestFor('2.0.0', good);
    if (manifest) m = manifest(m, outside);
    await writeTarGz(file, [...(m ? [manifestEntry(m)] : []), ...entries(outside)]);
    return file;
  },
});

const cases: Case[] = [
  tarCase('absolute path', 'ERR_UNSAFE_ENTRY', (o) => [...goodEntries(), { name: join(o, 'evil-abs'), content: 'x' }]),
  tarCase('dot-dot path', 'ERR_UNSAFE_ENTRY', () => [...goodEntries(), { name: '../outside/evil-dotdot', content: 'x' }]),
  tarCase('dot-dot inside a path', 'ERR_UNSAFE_ENTRY', () => [{ name: 'lib/../../outside/evil', content: 'x' }, ...goodEntries()]),
  tarCase('symlink leaving the root (relative)', 'ERR_UNSAFE_ENTRY', () => [
    ...goodEntries(),
    { name: 'lib/escape', type: '2', linkname: '../../outside' },
  ]),
  tarCase('symlink leaving the root (absolute)', 'ERR_UNSAFE_ENTRY', (o) => [
    ...goodEntries(),
    { name: 'lib/abs', type: '2', linkname: o },
  ]),
  tarCase(
    'symlink climbing through another link',
    'ERR_UNSAFE_ENTRY',
    () => [...goodEntries(), { name: 'here', type: '2', linkname: 'lib' }, { name: 'lib/up', type: '2', linkname: 'x/../..' }],
    (m) => ({ ...m, links: [{ path: 'here', link: 'lib' }] }),
  ),
  tarCase(
    'file written through a link in the package',
    'ERR_UNSAFE_ENTRY',
    () => [...goodEntries(), { name: 'lnk', type: '2', linkname: 'lib' }, { name: 'lnk/evil', content: 'x' }],
    (m) => ({
      ...m,
      links: [{ path: 'lnk', link: 'lib' }],
      files: [
        ...(m.files as object[]),
        { path: 'lnk/evil', size: 1, sha256: '2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881', mode: 420 },
      ],
    }),
  ),
  tarCase('hardlink', 'ERR_UNSAFE_ENTRY', () => [...goodEntries(), { name: 'lib/hl', type: '1', linkname: '/etc/passwd' }]),
  tarCase('character device', 'ERR_UNSAFE_ENTRY', () => [...goodEntries(), { name: 'lib/tty', type: '3' }]),
  tarCase('block device', 'ERR_UNSAFE_ENTRY', () => [...goodEntries(), { name: 'lib/disk', type: '4' }]),
  tarCase('fifo', 'ERR_UNSAFE_ENTRY', () => [...goodEntries(), { name: 'lib/pipe', type: '6' }]),
  tarCase('duplicate entry', 'ERR_UNSAFE_ENTRY', () => [...goodEntries(), { name: 'lib/libcore.so', content: 'core 2.0.0\n' }]),
  tarCase('entries differing only by case', 'ERR_UNSAFE_ENTRY', () => [
    ...goodEntries(),
    { name: 'LIB/libcore.so', content: 'core 2.0.0\n' },
  ]),
  tarCase('entry not in the manifest', 'ERR_UNSAFE_ENTRY', () => [...goodEntries(), { name: 'lib/extra.so', content: 'surprise' }]),
  tarCase('entry before the manifest, not in it', 'ERR_UNSAFE_ENTRY', () => [{ name: 'lib/early.so', content: 'x' }]),
  tarCase('entry in the state directory', 'ERR_UNSAFE_ENTRY', () => [
    ...goodEntries(),
    { name: '.llm-upgrade/installed.json', content: '{}' },
  ]),
  tarCase('size mismatch', 'ERR_HASH_MISMATCH', () => [
    { name: 'bin/tool', content: good[0]!.content, mode: 0o755 },
    { name: 'lib/libcore.so', content: 'core 2.0.0 and more\n' },
  ]),
  tarCase('hash mismatch (same size)', 'ERR_HASH_MISMATCH', () => [
    { name: 'bin/tool', content: good[0]!.content, mode: 0o755 },
    { name: 'lib/libcore.so', content: 'core 6.6.6\n' },
  ]),
  tarCase('file missing from the package', 'ERR_BAD_PACKAGE', () => [goodEntries()[0]!]),
  tarCase('expands past the manifest size', 'ERR_HASH_MISMATCH', () => [
    goodEntries()[0]!,
    { name: 'lib/libcore.so', content: Buffer.alloc(64 * 1024 * 1024) },
  ]),
  tarCase(
    'version not semver',
    'ERR_NOT_SEMVER',
    () => goodEntries(),
    (m) => ({ ...m, version: 'latest' }),
  ),
  tarCase(
    'manifest without files',
    'ERR_BAD_PACKAGE',
    () => goodEntries(),
    (m) => ({ name: m.name, version: m.version }),
  ),
  tarCase(
    'manifest without name',
    'ERR_BAD_PACKAGE',
    () => goodEntries(),
    (m) => ({ ...m, name: undefined }),
  ),
  tarCase(
    'manifest with a bad sha256',
    'ERR_BAD_PACKAGE',
    () => goodEntries(),
    (m) => ({ ...m, files: (m.files as { path: string }[]).map((f) => ({ ...f, sha256: 'nothex' })) }),
  ),
  tarCase(
    'manifest listing a path twice',
    'ERR_UNSAFE_ENTRY',
    () => goodEntries(),
    (m) => ({ ...m, files: [...(m.files as object[]), (m.files as object[])[0]] }),
  ),
  tarCase(
    'manifest with an absolute path',
    'ERR_UNSAFE_ENTRY',
    () => goodEntries(),
    (m, o) => ({
      ...m,
      files: [
        ...(m.files as object[]),
        { path: join(o, 'x'), size: 0, sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', mode: 420 },
      ],
    }),
  ),
  tarCase(
    'no manifest',
    'ERR_BAD_PACKAGE',
    () => goodEntries(),
    () => null,
  ),
  tarCase(
    'manifest is not JSON',
    'ERR_BAD_PACKAGE',
    () => [{ name: 'llm-upgrade.json', content: '{"name": "tool", ' }, ...goodEntries()],
    () => null,
  ),
  tarCase(
    'wrong platform',
    'ERR_BAD_PACKAGE',
    () => goodEntries(),
    (m) => ({ ...m, platform: 'plan9-mips' }),
  ),
  {
    name: 'truncated archive',
    code: 'ERR_BAD_PACKAGE',
    build: async (file) => {
      const full = gzipSync(rawTar([manifestEntry(manifestFor('2.0.0', good)), ...goodEntries()]));
      await writeFile(file, full.subarray(0, Math.floor(full.length / 2)));
      return file;
    },
  },
  {
    name: 'tar without its end-of-archive marker',
    code: 'ERR_BAD_PACKAGE',
    build: async (file) => {
      await writeTarGz(file, [manifestEntry(manifestFor('2.0.0', good)), ...goodEntries()], { end: false });
      return file;
    },
  },
  {
    name: 'corrupt gzip data',
    code: 'ERR_BAD_PACKAGE',
    build: async (file) => {
      const full = gzipSync(rawTar([manifestEntry(manifestFor('2.0.0', good)), ...goodEntries()]));
      for (let i = 20; i < full.length - 20; i += 7) full[i] = full[i]! ^ 0x5a;
      await writeFile(file, full);
      return file;
    },
  },
  {
    name: 'corrupt tar header checksum',
    code: 'ERR_BAD_PACKAGE',
    build: async (file) => {
      const raw = rawTar([manifestEntry(manifestFor('2.0.0', good)), ...goodEntries()]);
      raw[10] = 0x41;
      await writeFile(file, gzipSync(raw));
      return file;
    },
  },
  {
    name: 'zip: dot-dot entry',
    code: 'ERR_UNSAFE_ENTRY',
    build: async (file) => {
      await writeFile(
        file,
        rawZip([
          { name: 'llm-upgrade.json', content: JSON.stringify(manifestFor('2.0.0', good)) },
          ...good.map((f) => ({ name: f.path, content: f.content })),
          { name: '../outside/evil-zip', content: 'x' },
        ]),
      );
      return file;
    },
  },
  {
    name: 'zip: absolute entry',
    code: 'ERR_UNSAFE_ENTRY',
    build: async (file) => {
      await writeFile(
        file,
        rawZip([
          { name: 'llm-upgrade.json', content: JSON.stringify(manifestFor('2.0.0', good)) },
          ...good.map((f) => ({ name: f.path, content: f.content })),
          { name: join(outside, 'evil-zip-abs'), content: 'x' },
        ]),
      );
      return file;
    },
  },
  {
    name: 'zip: symlink leaving the root',
    code: 'ERR_UNSAFE_ENTRY',
    build: async (file) => {
      await writeFile(
        file,
        rawZip([
          { name: 'llm-upgrade.json', content: JSON.stringify(manifestFor('2.0.0', good)) },
          ...good.map((f) => ({ name: f.path, content: f.content })),
          { name: 'lib/out', content: '../../outside', mode: 0o120777 },
        ]),
      );
      return file;
    },
  },
  {
    name: 'zip: device entry',
    code: 'ERR_UNSAFE_ENTRY',
    build: async (file) => {
      await writeFile(
        file,
        rawZip([
          { name: 'llm-upgrade.json', content: JSON.stringify(manifestFor('2.0.0', good)) },
          ...good.map((f) => ({ name: f.path, content: f.content })),
          { name: 'lib/dev', mode: 0o020644 },
        ]),
      );
      return file;
    },
  },
  {
    name: 'zip: truncated',
    code: 'ERR_BAD_PACKAGE',
    build: async (file) => {
      const z = rawZip([
        { name: 'llm-upgrade.json', content: JSON.stringify(manifestFor('2.0.0', good)) },
        ...good.map((f) => ({ name: f.path, content: f.content })),
      ]);
      await writeFile(file, z.subarray(0, z.length - 30));
      return file;
    },
  },
];

let keyFile: string;
let otherKeyFile: string;
let roots: { name: string; root: string }[];

beforeAll(async () => {
  ensureBuilt();
  base = await kit.makeTempDir('llm-upgrade-hostile-');
  outside = join(base, 'outside');
  pkgDir = join(base, 'pkgs');
  await mkdir(outside);
  await mkdir(pkgDir);
  // Two installs: one made by llm-upgrade (with state), one plain directory (no state dir at all).
  const v1 = await makeProductDir(join(base, 'v1'), '1.0.0');
  const pkg = join(pkgDir, 'v1.tar.gz');
  expect((await runCli(['pack', v1, '--name', 'tool', '--version', '1.0.0', '--smoke', 'bin/tool --version', '--out', pkg])).code).toBe(0);
  const managed = join(base, 'managed', 'install');
  expect((await runCli(['apply', pkg, '--install-dir', managed])).code).toBe(0);
  const plain = await makeProductDir(join(base, 'plain', 'install'), '1.0.0');
  roots = [
    { name: 'managed', root: managed },
    { name: 'plain', root: plain },
  ];
  const pair = generateKeyPairSync('ed25519');
  keyFile = join(base, 'pub.pem');
  await writeFile(keyFile, pair.publicKey.export({ type: 'spki', format: 'pem' }));
  otherKeyFile = join(base, 'other.key');
  await writeFile(otherKeyFile, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }));
}, 120_000);

afterAll(async () => {
  await kit.cleanup();
});

async function expectRefused(file: string, code: string | RegExp, extra: string[] = []) {
  for (const { root } of roots) {
    const before = await treeDigest(root);
    const r = await runCli(['apply', file, '--install-dir', root, '--json', ...extra]);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(2);
    expect(r.json?.ok).toBe(false);
    expect(r.json.error.code).toMatch(code);
    expect(r.json.error.changed).toBe(false);
    expect(r.json.error.message.length).toBeGreaterThan(10);
    expect(await treeDigest(root)).toBe(before);
    expect(await readdir(outside)).toEqual([]);
  }
}

describe('hostile packages are refused, the install untouched', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const ext = c.name.startsWith('zip') ? 'zip' : 'tar.gz';
      const file = await c.build(join(pkgDir, `${c.name.replace(/\W+/g, '-')}.${ext}`));
      await expectRefused(file, c.code, c.args);
    });
  }

  it('a directory source with a fifo', async () => {
    const dir = await makeProductDir(join(base, 'dir-fifo'), '2.0.0');
    const { execFileSync } = await import('node:child_process');
    execFileSync('mkfifo', [join(dir, 'lib', 'pipe')]);
    await writeFile(join(dir, 'llm-upgrade.json'), JSON.stringify(manifestFor('2.0.0', [])));
    await expectRefused(dir, 'ERR_UNSAFE_ENTRY');
  });

  it('unsigned package when a public key is configured', async () => {
    const dir = await makeProductDir(join(base, 'unsigned'), '2.0.0');
    const file = join(pkgDir, 'unsigned.tar.gz');
    expect((await runCli(['pack', dir, '--name', 'tool', '--version', '2.0.0', '--out', file])).code).toBe(0);
    await expectRefused(file, 'ERR_SIGNATURE', ['--public-key', keyFile]);
  });

  it('package signed by another key', async () => {
    const dir = await makeProductDir(join(base, 'other-signed'), '2.0.0');
    const file = join(pkgDir, 'other-signed.zip');
    expect((await runCli(['pack', dir, '--name', 'tool', '--version', '2.0.0', '--sign-key', otherKeyFile, '--out', file])).code).toBe(0);
    await expectRefused(file, 'ERR_SIGNATURE', ['--public-key', keyFile]);
  });

  it('a signed manifest altered after signing', async () => {
    const dir = await makeProductDir(join(base, 'tampered'), '2.0.0');
    const signed = join(pkgDir, 'tampered-src.tar.gz');
    const pub = join(base, 'other.pub');
    const { createPrivateKey, createPublicKey } = await import('node:crypto');
    await writeFile(pub, createPublicKey(createPrivateKey(await readFile(otherKeyFile, 'utf8'))).export({ type: 'spki', format: 'pem' }));
    expect((await runCli(['pack', dir, '--name', 'tool', '--version', '2.0.0', '--sign-key', otherKeyFile, '--out', signed])).code).toBe(0);
    // Re-pack the same signature next to a manifest with one byte changed.
    const extract = join(base, 'tampered-x');
    await mkdir(extract);
    const { execFileSync } = await import('node:child_process');
    execFileSync('tar', ['xzf', signed, '-C', extract]);
    const m = (await readFile(join(extract, 'llm-upgrade.json'), 'utf8')).replace('"tool"', '"tooL"');
    const entries: CraftEntry[] = [
      { name: 'llm-upgrade.json', content: m },
      { name: 'llm-upgrade.json.sig', content: await readFile(join(extract, 'llm-upgrade.json.sig')) },
    ];
    for (const p of ['README', 'bin/tool', 'lib/libcore.so', 'lib/sub/data.bin'])
      entries.push({ name: p, content: await readFile(join(extract, p)) });
    const file = join(pkgDir, 'tampered.tar.gz');
    await writeTarGz(file, entries);
    await expectRefused(file, 'ERR_SIGNATURE', ['--public-key', pub]);
  });
});
