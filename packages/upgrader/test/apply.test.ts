import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestKit, waitFor } from '@llm-upgrade/testkit';
import { ensureBuilt, makeProductDir, runCli, sh, treeDigest } from './helpers.js';

const kit = new TestKit();
let base: string;
const pkg: Record<string, string> = {};
const src: Record<string, string> = {};

async function packVersion(version: string, ext: 'tar.gz' | 'zip', extra: Record<string, string> = {}, signKey?: string): Promise<string> {
  src[version] ??= await makeProductDir(join(base, `src-${version}`), version, extra);
  const out = join(base, `tool-${version}${signKey ? '-signed' : ''}.${ext}`);
  const r = await runCli([
    'pack',
    src[version]!,
    '--name',
    'tool',
    '--version',
    version,
    '--smoke',
    'bin/tool --version',
    '--out',
    out,
    '--json',
    ...(signKey ? ['--sign-key', signKey] : []),
  ]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.json.version).toBe(version);
  return out;
}

let privKey: string;
let pubKey: string;

beforeAll(async () => {
  ensureBuilt();
  base = await kit.makeTempDir('llm-upgrade-apply-');
  pkg['1'] = await packVersion('1.0.0', 'tar.gz');
  pkg['2'] = await packVersion('2.0.0', 'zip', { 'lib/only-in-2.so': 'new in 2' });
  pkg['3'] = await packVersion('3.0.0', 'tar.gz');
  const pair = generateKeyPairSync('ed25519');
  privKey = join(base, 'sign.pem');
  pubKey = join(base, 'sign.pub');
  await writeFile(privKey, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  await writeFile(pubKey, pair.publicKey.export({ type: 'spki', format: 'pem' }));
}, 120_000);

afterAll(async () => {
  await kit.cleanup();
});

const installed = async (root: string) =>
  JSON.parse(await readFile(join(root, '.llm-upgrade', 'installed.json'), 'utf8')) as { version: string };

describe('pack', () => {
  it('is deterministic and readable by GNU tar and unzip', async () => {
    const a = join(base, 'det-a.tar.gz');
    const b = join(base, 'det-b.tar.gz');
    await runCli(['pack', src['1.0.0']!, '--name', 'tool', '--version', '1.0.0', '--out', a]);
    await runCli(['pack', src['1.0.0']!, '--name', 'tool', '--version', '1.0.0', '--out', b]);
    expect(await readFile(a)).toEqual(await readFile(b));
    const list = (await sh('tar', ['tzf', a])).trim().split('\n');
    expect(list[0]).toBe('llm-upgrade.json');
    expect(list.slice(1)).toEqual([...list.slice(1)].sort());
    expect(list).toContain('lib/sub/data.bin');
    const zl = await sh('unzip', ['-l', pkg['2']!]);
    expect(zl).toContain('lib/only-in-2.so');
    const m = JSON.parse(await sh('tar', ['xzOf', a, 'llm-upgrade.json']));
    expect(m.files.find((f: { path: string }) => f.path === 'bin/tool').mode).toBe(0o755);
    expect(m.smoke).toBeUndefined();
  });

  it('refuses a version that is not semver (exit 2)', async () => {
    const r = await runCli(['pack', src['1.0.0']!, '--name', 'tool', '--version', 'v1', '--out', join(base, 'x.tar.gz'), '--json']);
    expect(r.code).toBe(2);
    expect(r.json.error.code).toBe('ERR_NOT_SEMVER');
  });
});

describe('apply', () => {
  it('installs into a missing root, upgrades, refuses a downgrade, no-ops the same version, rolls back', async () => {
    const root = join(base, 'r1', 'install');
    let r = await runCli(['apply', pkg['1']!, '--install-dir', root, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json).toMatchObject({ ok: true, from: null, to: '1.0.0', phase: 'commit', changed: true, rolledBack: false });
    expect(await treeDigest(root, { skipState: true })).toBe(await treeDigest(src['1.0.0']!));
    expect((await installed(root)).version).toBe('1.0.0');

    r = await runCli(['apply', pkg['2']!, '--install-dir', root, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json).toMatchObject({ ok: true, from: '1.0.0', to: '2.0.0', rolledBack: false });
    expect(typeof r.json.downtimeMs).toBe('number');
    expect(await treeDigest(root, { skipState: true })).toBe(await treeDigest(src['2.0.0']!));
    expect((await sh(join(root, 'bin', 'tool'), [])).trim()).toBe('tool version is 2.0.0');

    r = await runCli(['apply', pkg['2']!, '--install-dir', root, '--json']);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ ok: true, noop: true, changed: false, from: '2.0.0', to: '2.0.0' });

    const before = await treeDigest(root);
    r = await runCli(['apply', pkg['1']!, '--install-dir', root, '--json']);
    expect(r.code).toBe(2);
    expect(r.json.error.code).toBe('ERR_DOWNGRADE');
    expect(await treeDigest(root)).toBe(before);

    r = await runCli(['rollback', '--install-dir', root, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json).toMatchObject({ ok: true, from: '2.0.0', to: '1.0.0' });
    expect(await treeDigest(root, { skipState: true })).toBe(await treeDigest(src['1.0.0']!));
    expect((await installed(root)).version).toBe('1.0.0');

    // A second rollback rolls forward again (the backup now holds 2.0.0).
    r = await runCli(['rollback', '--install-dir', root, '--json']);
    expect(r.code).toBe(0);
    expect(await treeDigest(root, { skipState: true })).toBe(await treeDigest(src['2.0.0']!));

    r = await runCli(['apply', pkg['1']!, '--install-dir', root, '--allow-downgrade', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json).toMatchObject({ from: '2.0.0', to: '1.0.0' });
    expect(await treeDigest(root, { skipState: true })).toBe(await treeDigest(src['1.0.0']!));
  });

  it('upgrades a plain directory (no state), detecting its version with the smoke command', async () => {
    const root = await makeProductDir(join(base, 'plain', 'install'), '1.0.0', { 'stray.txt': 'not in any manifest' });
    // A directory we did not install, holding an entry the package does not list, may be a
    // shared directory given by mistake: refused, untouched, the entry named.
    const before = await treeDigest(root);
    const refused = await runCli(['apply', pkg['3']!, '--install-dir', root, '--json']);
    expect(refused.code, refused.stdout + refused.stderr).toBe(2);
    expect(refused.json.error).toMatchObject({ code: 'ERR_USAGE', phase: 'resolve', changed: false });
    expect(refused.json.error.message).toContain('stray.txt');
    expect(refused.json.error.hint).toContain('--adopt');
    expect(await treeDigest(root, { skipState: true })).toBe(before);
    const r = await runCli(['apply', pkg['3']!, '--install-dir', root, '--adopt', '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json).toMatchObject({ from: '1.0.0', to: '3.0.0' });
    expect(await treeDigest(root, { skipState: true })).toBe(await treeDigest(src['3.0.0']!));
    // The stray file went to the kept backup, not to the bin.
    expect(await readFile(join(root, '.llm-upgrade', 'backup', 'files', 'stray.txt'), 'utf8')).toBe('not in any manifest');
  });

  it('installs from a directory source', async () => {
    const dir = await makeProductDir(join(base, 'dirsrc'), '4.0.0');
    await writeFile(join(dir, 'llm-upgrade.json'), '');
    await rm(join(dir, 'llm-upgrade.json'));
    const packed = join(base, 'dirsrc-x');
    await mkdir(packed);
    const out = join(base, 'dirsrc.tar.gz');
    expect((await runCli(['pack', dir, '--name', 'tool', '--version', '4.0.0', '--out', out])).code).toBe(0);
    execFileSync('tar', ['xzf', out, '-C', packed]);
    const root = join(base, 'r-dir');
    const r = await runCli(['apply', packed, '--install-dir', root, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await treeDigest(root, { skipState: true })).toBe(await treeDigest(dir));
  });

  it('accepts a tarball made by GNU tar from a packed directory', async () => {
    const packed = join(base, 'gnu-src');
    await mkdir(packed);
    execFileSync('tar', ['xzf', pkg['3']!, '-C', packed]);
    const gnu = join(base, 'gnu.tgz');
    execFileSync('tar', ['czf', gnu, '-C', packed, '.']);
    const root = join(base, 'r-gnu');
    const r = await runCli(['apply', gnu, '--install-dir', root, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await treeDigest(root, { skipState: true })).toBe(await treeDigest(src['3.0.0']!));
  });

  it('--dry-run plans and changes nothing', async () => {
    const root = join(base, 'r-dry');
    expect((await runCli(['apply', pkg['1']!, '--install-dir', root])).code).toBe(0);
    const before = await treeDigest(root);
    const r = await runCli(['apply', pkg['2']!, '--install-dir', root, '--dry-run', '--json']);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ ok: true, dryRun: true, from: '1.0.0', to: '2.0.0', changed: false });
    expect(r.json.plan.add).toEqual(['lib/only-in-2.so']);
    expect(r.json.plan.replace).toContain('bin/tool');
    expect(r.json.plan.remove).toEqual([]);
    expect(await treeDigest(root)).toBe(before);
  });

  it('verifies an Ed25519 signature when a public key is given', async () => {
    const signed = await packVersion('1.0.0', 'tar.gz', {}, privKey);
    const root = join(base, 'r-signed');
    const r = await runCli(['apply', signed, '--install-dir', root, '--public-key', pubKey, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json.signed).toBe(true);
    const listing = await sh('tar', ['tzf', signed]);
    expect(listing.split('\n').slice(0, 2)).toEqual(['llm-upgrade.json', 'llm-upgrade.json.sig']);
  });
});

describe('lock', () => {
  it('a live lock gives exit 5 naming the holder; a stale one is taken over', async () => {
    const root = join(base, 'r-lock');
    expect((await runCli(['apply', pkg['1']!, '--install-dir', root])).code).toBe(0);
    // Pause a real upgrader right after its first journal write: it holds the lock.
    let holderPid = 0;
    const holder = runCli(['apply', pkg['2']!, '--install-dir', root, '--json'], {
      env: { LLM_UPGRADE_TEST_PAUSE_AT_STEP: '1' },
      onSpawn: (pid) => (holderPid = pid),
    });
    await waitFor(async () => (await readFile(join(root, '.llm-upgrade', 'journal.json'), 'utf8').catch(() => '')).includes('"seq":1'), {
      timeoutMs: 20_000,
      what: 'the first journal write',
    });
    kit.track(holderPid);
    const r = await runCli(['apply', pkg['3']!, '--install-dir', root, '--json']);
    expect(r.code).toBe(5);
    expect(r.json.error.code).toBe('ERR_LOCKED');
    expect(r.json.error.message).toContain(`pid ${holderPid}`);
    process.kill(holderPid, 'SIGKILL');
    await holder;
    // The holder is dead: its lock is stale; the next command takes it over and recovers.
    const r2 = await runCli(['apply', pkg['3']!, '--install-dir', root, '--json']);
    expect(r2.code, r2.stdout + r2.stderr).toBe(0);
    expect(r2.json).toMatchObject({ from: '1.0.0', to: '3.0.0', recovered: 'rolled-back' });
  });
});

describe('check --feed errors and usage', () => {
  it('apply without a package is a usage error (exit 2)', async () => {
    const r = await runCli(['apply', '--install-dir', join(base, 'nothing'), '--json']);
    expect(r.code).toBe(2);
    expect(r.json.error.code).toBe('ERR_USAGE');
  });
  it('rollback without a backup is exit 2 (ERR_NO_BACKUP)', async () => {
    const root = await makeProductDir(join(base, 'r-nobackup'), '1.0.0');
    const before = await treeDigest(root);
    const r = await runCli(['rollback', '--install-dir', root, '--json']);
    expect(r.code).toBe(2);
    expect(r.json.error.code).toBe('ERR_NO_BACKUP');
    expect(await treeDigest(root)).toBe(before);
  });
});
