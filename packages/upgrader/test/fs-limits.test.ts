import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmdirSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestKit } from '@llm-upgrade/testkit';
import { ensureBuilt, makeProductDir, runCli, treeDigest } from './helpers.js';

// A read-only root and a full disk need real mounts (a tmpfs). As root, chmod does not stop
// writes, so without permission to mount these tests skip and say why.
function mountProbe(): string | null {
  const dir = mkdtempSync(join(tmpdir(), 'llm-upgrade-mount-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'pipe' });
    execFileSync('umount', [dir], { stdio: 'pipe' });
    return null;
  } catch (e) {
    return `cannot mount a tmpfs here (${((e as { stderr?: Buffer }).stderr?.toString() || (e as Error).message).trim()})`;
  } finally {
    rmdirSync(dir);
  }
}
const cannotMount = process.platform === 'linux' ? mountProbe() : 'tmpfs mounts are Linux-only';
if (cannotMount) console.log(`skipping read-only-root and full-disk tests: ${cannotMount}`);

const kit = new TestKit();
let base: string;
const mounts: string[] = [];
let v1Pkg: string;
let v2Pkg: string;
let bigPkg: string;

function mountTmpfs(dir: string, sizeKiB: number): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k`, 'tmpfs', dir]);
  mounts.push(dir);
}

describe.skipIf(cannotMount !== null)('file-system limits', () => {
  beforeAll(async () => {
    ensureBuilt();
    base = await kit.makeTempDir('llm-upgrade-fs-');
    const v1 = await makeProductDir(join(base, 'v1'), '1.0.0');
    const v2 = await makeProductDir(join(base, 'v2'), '2.0.0');
    const big = await makeProductDir(join(base, 'big'), '3.0.0');
    writeFileSync(join(big, 'lib', 'huge.bin'), Buffer.alloc(6 * 1024 * 1024, 1));
    v1Pkg = join(base, 'v1.tar.gz');
    v2Pkg = join(base, 'v2.tar.gz');
    bigPkg = join(base, 'big.tar.gz');
    for (const [dir, v, out] of [
      [v1, '1.0.0', v1Pkg],
      [v2, '2.0.0', v2Pkg],
      [big, '3.0.0', bigPkg],
    ] as const) {
      expect((await runCli(['pack', dir, '--name', 'tool', '--version', v, '--out', out])).code).toBe(0);
    }
  }, 60_000);

  afterAll(async () => {
    for (const m of mounts.reverse()) {
      try {
        execFileSync('umount', [m]);
      } catch {
        execFileSync('umount', ['-l', m]);
      }
    }
    await kit.cleanup();
  });

  it('a read-only root: the upgrade fails (ERR_READ_ONLY) and the install is untouched', async () => {
    const root = join(base, 'ro');
    mountTmpfs(root, 4096);
    expect((await runCli(['apply', v1Pkg, '--install-dir', root])).code).toBe(0);
    execFileSync('mount', ['-o', 'remount,ro', root]);
    const before = await treeDigest(root);
    const r = await runCli(['apply', v2Pkg, '--install-dir', root, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.json.error.code).toBe('ERR_READ_ONLY');
    expect(r.json.error.message).toContain(root);
    expect(await treeDigest(root)).toBe(before);
  });

  it('a disk that fills up while staging: ERR_DISK_FULL, staging removed, install untouched', async () => {
    const root = join(base, 'full');
    mountTmpfs(root, 3072);
    expect((await runCli(['apply', v1Pkg, '--install-dir', root])).code).toBe(0);
    const before = await treeDigest(root);
    const r = await runCli(['apply', bigPkg, '--install-dir', root, '--json']);
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.json.error.code).toBe('ERR_DISK_FULL');
    expect(r.json.error.changed).toBe(false);
    expect(await readdir(join(root, '.llm-upgrade'))).not.toContain('staging');
    expect(await treeDigest(root)).toBe(before);
    // And once there is room, the same transaction goes through.
    const ok = await runCli(['apply', v2Pkg, '--install-dir', root, '--json']);
    expect(ok.code, ok.stderr).toBe(0);
  });
});
