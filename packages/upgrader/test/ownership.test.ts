import { chmod, chown, lstat, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runProcess, TestKit } from '@llm-upgrade/testkit';
import { manifestEntry, manifestFor, writeTarGz } from './craft.js';
import { CLI, ensureBuilt, makeProductDir, runCli, treeDigest } from './helpers.js';

// What the package owns (only what its manifests listed), what runs from a package (nothing
// before verification, nothing outside the root), product names, modes and owners.
const kit = new TestKit();
let base: string;
const pkgs: Record<string, string> = {};
let n = 0;
const fresh = () => join(base, `root-${++n}`);

async function packDir(dir: string, name: string, version: string, out: string, smoke = 'bin/tool'): Promise<string> {
  const r = await runCli(['pack', dir, '--name', name, '--version', version, '--smoke', smoke, '--out', out]);
  expect(r.code, r.stderr).toBe(0);
  return out;
}

beforeAll(async () => {
  ensureBuilt();
  base = await kit.makeTempDir('llm-upgrade-own-');
  for (const v of ['1.0.0', '2.0.0', '3.0.0', '4.0.0'])
    pkgs[v] = await packDir(await makeProductDir(join(base, `v${v}`), v), 'tool', v, join(base, `tool-${v}.tar.gz`));
  pkgs.other = await packDir(
    await makeProductDir(join(base, 'other'), '5.0.0'),
    'another-product',
    '5.0.0',
    join(base, 'other-5.0.0.tar.gz'),
  );
  // A package whose own smoke command leaves a mark when it runs.
  const marker = await makeProductDir(join(base, 'marker'), '6.0.0');
  await writeFile(join(marker, 'bin', 'tool'), `#!/bin/sh\ntouch "${join(base, 'smoke-ran')}"\necho "tool version is 6.0.0"\n`);
  pkgs.marker = await packDir(marker, 'tool', '6.0.0', join(base, 'marker-6.0.0.tar.gz'));
}, 120_000);

afterAll(() => kit.cleanup());

async function addUserFiles(root: string): Promise<string> {
  await writeFile(join(root, 'config.yaml'), 'host: 127.0.0.1:11500\n');
  await mkdir(join(root, 'models', 'blobs'), { recursive: true });
  await writeFile(join(root, 'models', 'blobs', 'sha256-abc'), Buffer.alloc(8192, 7));
  // Inside the package's own directories too.
  await writeFile(join(root, 'lib', 'sub', 'notes.txt'), 'my notes\n');
  await mkdir(join(root, 'lib', 'plugins'));
  await writeFile(join(root, 'lib', 'plugins', 'p.so'), 'plugin\n');
  return userDigest(root);
}
const userDigest = async (root: string) =>
  [
    await readFile(join(root, 'config.yaml'), 'utf8'),
    (await readFile(join(root, 'models', 'blobs', 'sha256-abc'))).length,
    await readFile(join(root, 'lib', 'sub', 'notes.txt'), 'utf8'),
    await readFile(join(root, 'lib', 'plugins', 'p.so'), 'utf8'),
  ].join('|');

describe('the package owns only what its manifests listed', () => {
  it('a user config, a models directory and files inside package directories survive three upgrades and a rollback; status lists them', async () => {
    const root = fresh();
    expect((await runCli(['apply', pkgs['1.0.0']!, '--install-dir', root])).code).toBe(0);
    const user = await addUserFiles(root);
    for (const v of ['2.0.0', '3.0.0', '4.0.0']) {
      const r = await runCli(['apply', pkgs[v]!, '--install-dir', root, '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(await userDigest(root)).toBe(user);
      expect(await readFile(join(root, 'README'), 'utf8')).toBe(`readme ${v}\n`);
      // Not in the backup either: the kept backup is the old version only.
      expect(existsSync(join(root, '.llm-upgrade', 'backup', 'files', 'config.yaml'))).toBe(false);
      expect(existsSync(join(root, '.llm-upgrade', 'backup', 'files', 'lib', 'plugins'))).toBe(false);
      expect(await readFile(join(root, 'lib', 'libcore.so'), 'utf8')).toContain(`core ${v}`);
    }
    const rb = await runCli(['rollback', '--install-dir', root, '--json']);
    expect(rb.code, rb.stderr).toBe(0);
    expect(rb.json.to).toBe('3.0.0');
    expect(await readFile(join(root, 'README'), 'utf8')).toBe('readme 3.0.0\n');
    expect(await userDigest(root)).toBe(user);
    const st = await runCli(['status', '--install-dir', root, '--json']);
    expect(st.json.userFiles).toEqual(['config.yaml', 'models']);
  });
});

describe('rollback after a fresh install', () => {
  it('refuses to empty the install unless --to-empty (then only the package files go)', async () => {
    const root = fresh();
    expect((await runCli(['apply', pkgs['1.0.0']!, '--install-dir', root])).code).toBe(0);
    await writeFile(join(root, 'config.yaml'), 'mine\n');
    const before = await treeDigest(root, { skipState: true });
    const r = await runCli(['rollback', '--install-dir', root, '--json']);
    expect(r.code).toBe(2);
    expect(r.json.error.code).toBe('ERR_NO_BACKUP');
    expect(r.json.error.message).toContain('fresh install');
    expect(r.json.error.changed).toBe(false);
    expect(await treeDigest(root, { skipState: true })).toBe(before);
    const e = await runCli(['rollback', '--install-dir', root, '--to-empty', '--json']);
    expect(e.code, e.stderr).toBe(0);
    expect(await treeDigest(root, { skipState: true })).toBe(
      `f config.yaml 644 ${(await import('node:crypto')).createHash('sha256').update('mine\n').digest('hex')}`,
    );
  });

  it('after a failed, rolled-back apply, rollback still refers to the last committed upgrade (the fresh install)', async () => {
    const root = fresh();
    expect((await runCli(['apply', pkgs['1.0.0']!, '--install-dir', root])).code).toBe(0);
    // 7.0.0 whose smoke prints 1.0.0: the post-check fails and the apply is rolled back.
    const liar = await makeProductDir(join(base, 'liar'), '1.0.0');
    const bad = await packDir(liar, 'tool', '7.0.0', join(base, 'liar-7.0.0.tar.gz'));
    const before = await treeDigest(root, { skipState: true });
    const a = await runCli(['apply', bad, '--install-dir', root, '--json']);
    expect(a.code).toBe(4);
    expect(a.json.error.details.rolledBack).toBe(true);
    const r = await runCli(['rollback', '--install-dir', root, '--json']);
    expect(r.code).toBe(2);
    expect(r.json.error.code).toBe('ERR_NO_BACKUP');
    expect(await treeDigest(root, { skipState: true })).toBe(before);
  });
});

describe('nothing from a package runs before verification or outside the root', () => {
  it('--dry-run runs no command of the package', async () => {
    const root = await makeProductDir(fresh(), '5.0.0');
    const r = await runCli(['apply', pkgs.marker!, '--install-dir', root, '--dry-run', '--adopt', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(base, 'smoke-ran'))).toBe(false);
  });

  it('a smoke command outside the package (absolute, "..", not a package file) is refused before anything is written', async () => {
    const files = [{ path: 'bin/tool', content: '#!/bin/sh\necho "tool version is 1.0.0"\n', mode: 0o755 }];
    const mark = join(base, 'outside-ran');
    for (const [i, smoke] of [
      ['/bin/sh', '-c', `touch ${mark}; echo 1.0.0`],
      ['../../bin/sh', '-c', 'echo 1.0.0'],
      ['bin/other'],
    ].entries()) {
      const pkg = join(base, `smoke-${i}.tar.gz`);
      await writeTarGz(pkg, [
        manifestEntry(manifestFor('1.0.0', files, { smoke })),
        ...files.map((f) => ({ name: f.path, content: f.content, mode: f.mode })),
      ]);
      const root = fresh();
      const r = await runCli(['apply', pkg, '--install-dir', root, '--json']);
      expect(r.code, r.stdout).toBe(2);
      expect(r.json.error.changed).toBe(false);
      expect(existsSync(root)).toBe(false);
      expect(existsSync(mark)).toBe(false);
    }
  });
});

describe('product name', () => {
  it('a package of another product is exit 2 unless --replace-product', async () => {
    const root = fresh();
    expect((await runCli(['apply', pkgs['1.0.0']!, '--install-dir', root])).code).toBe(0);
    const before = await treeDigest(root);
    const r = await runCli(['apply', pkgs.other!, '--install-dir', root, '--json']);
    expect(r.code).toBe(2);
    expect(r.json.error.message).toContain('another-product');
    expect(r.json.error.message).toContain('tool');
    expect(await treeDigest(root)).toBe(before);
    const ok = await runCli(['apply', pkgs.other!, '--install-dir', root, '--replace-product', '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(await readFile(join(root, '.llm-upgrade', 'installed.json'), 'utf8')).name).toBe('another-product');
  });
});

describe('modes and owners', () => {
  it('under umask 077 directories get the replaced mode (new ones 0755), files the manifest mode, owners are kept', async () => {
    const root = fresh();
    const umasked = (args: string[]) =>
      runProcess('/bin/sh', ['-c', 'umask 077; exec "$0" "$@"', process.execPath, CLI, ...args], {
        env: { ...process.env, NO_COLOR: '1' },
        timeoutMs: 60_000,
      });
    const first = await umasked(['apply', pkgs['1.0.0']!, '--install-dir', root]);
    expect(first.code, first.stderr).toBe(0);
    expect((await stat(join(root, 'bin'))).mode & 0o777).toBe(0o755);
    expect((await stat(join(root, 'lib', 'sub'))).mode & 0o777).toBe(0o755);
    expect((await stat(join(root, 'bin', 'tool'))).mode & 0o777).toBe(0o755);
    expect((await stat(join(root, 'README'))).mode & 0o777).toBe(0o644);
    // An admin's choices on the old version: lib is 0750 and owned by nobody, README by nobody.
    await chmod(join(root, 'lib'), 0o750);
    await chown(join(root, 'lib'), 65534, 65534);
    await chown(join(root, 'README'), 65534, 65534);
    const r = await umasked(['apply', pkgs['2.0.0']!, '--install-dir', root]);
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(join(root, 'README'), 'utf8')).toBe('readme 2.0.0\n');
    const lib = await lstat(join(root, 'lib'));
    expect(lib.mode & 0o777).toBe(0o750);
    expect([lib.uid, lib.gid]).toEqual([65534, 65534]);
    const readme = await lstat(join(root, 'README'));
    expect([readme.uid, readme.mode & 0o777]).toEqual([65534, 0o644]);
    expect((await stat(join(root, 'bin'))).mode & 0o777).toBe(0o755);
    expect((await stat(join(root, 'lib', 'sub'))).mode & 0o777).toBe(0o755);
    expect((await stat(join(root, 'bin', 'tool'))).uid).toBe(0);
  });
});
