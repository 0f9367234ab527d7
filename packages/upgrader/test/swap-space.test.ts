import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, statfsSync } from 'node:fs';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestKit } from '@llm-upgrade/testkit';
import { ensureBuilt, makeProductDir, runCli, treeDigest } from './helpers.js';

// A disk that runs out of inodes or blocks at every step of the swap (a real tmpfs whose caps
// are swept one inode / one page at a time): the pre-flight refuses before anything is stopped;
// without it (test hook) every failure rolls back by renames alone. After `recover` the install
// is all old or all new, no old file lost, the user's file still there, and `changed` is true
// whenever something was moved.
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
if (cannotMount) console.log(`skipping the swap space sweep: ${cannotMount}`);

const kit = new TestKit();
let base: string;
let disk = '';
let v2Pkg: string;
let template: string;
let oldDigest: string;
let newDigest: string;
const PAGE = 4096;
const ROOMY = 'size=16m,nr_inodes=4096';

const remount = (opts: string) => execFileSync('mount', ['-o', `remount,${opts}`, disk]);

describe.skipIf(cannotMount !== null)('space at every step of the swap', () => {
  beforeAll(async () => {
    ensureBuilt();
    base = await kit.makeTempDir('llm-upgrade-space-');
    const v1 = await makeProductDir(join(base, 'v1'), '1.0.0', { 'share/doc.txt': 'doc 1\n' });
    const v2 = await makeProductDir(join(base, 'v2'), '2.0.0', { 'etc/new.conf': 'new\n' });
    const v1Pkg = join(base, 'v1.tar.gz');
    v2Pkg = join(base, 'v2.tar.gz');
    for (const [dir, v, out] of [
      [v1, '1.0.0', v1Pkg],
      [v2, '2.0.0', v2Pkg],
    ] as const) {
      expect((await runCli(['pack', dir, '--name', 'tool', '--version', v, '--smoke', 'bin/tool', '--out', out])).code).toBe(0);
    }
    disk = join(base, 'disk');
    mkdirSync(disk);
    execFileSync('mount', ['-t', 'tmpfs', '-o', ROOMY, 'tmpfs', disk]);
    template = join(disk, 'template');
    expect((await runCli(['apply', v1Pkg, '--install-dir', template])).code).toBe(0);
    await writeFile(join(template, 'config.yaml'), 'mine\n');
    oldDigest = await treeDigest(template, { skipState: true });
    const scratch = join(base, 'v2-digest');
    expect((await runCli(['apply', v2Pkg, '--install-dir', scratch])).code).toBe(0);
    await writeFile(join(scratch, 'config.yaml'), 'mine\n');
    newDigest = await treeDigest(scratch, { skipState: true });
  }, 120_000);

  afterAll(async () => {
    if (disk) {
      try {
        execFileSync('umount', [disk]);
      } catch {
        execFileSync('umount', ['-l', disk]);
      }
    }
    await kit.cleanup();
  });

  /** One capped apply: returns a short description for the log. */
  async function attempt(cap: { inodes: number } | { pages: number }, preflight: boolean): Promise<string> {
    const work = join(disk, 'work');
    await rm(work, { recursive: true, force: true });
    execFileSync('cp', ['-a', template, work]);
    const st = statfsSync(disk);
    const limit = 'inodes' in cap ? `nr_inodes=${st.files - st.ffree + cap.inodes}` : `size=${(st.blocks - st.bfree + cap.pages) * PAGE}`;
    remount(limit);
    let r;
    try {
      r = await runCli(['apply', v2Pkg, '--install-dir', work, '--json'], {
        env: preflight ? {} : { LLM_UPGRADE_TEST_SKIP_PREFLIGHT: '1' },
      });
    } finally {
      remount(ROOMY);
    }
    const what = `${limit} (preflight ${preflight}): exit ${r.code} ${r.json?.error ? `${r.json.error.code}/${r.json.error.phase}/changed=${r.json.error.changed}` : 'ok'}`;
    const digestNow = await treeDigest(work, { skipState: true });
    if (r.code === 0) {
      expect(digestNow, what).toBe(newDigest);
      return what;
    }
    const err = r.json?.error;
    expect(err, `${what}\n${r.stdout}${r.stderr}`).toBeDefined();
    if (!err.changed) {
      expect(digestNow, what).toBe(oldDigest);
      expect(existsSync(join(work, '.llm-upgrade', 'journal.json')), what).toBe(false);
    }
    if (err.details?.rolledBack) expect(err.changed, what).toBe(true);
    if (preflight && err.code === 'ERR_DISK_FULL') expect(['stage', 'verify', 'lock'], what).toContain(err.phase);
    const rec = await runCli(['recover', '--install-dir', work, '--json']);
    expect(rec.code, `${what}\nrecover: ${rec.stdout}${rec.stderr}`).toBe(0);
    const after = await treeDigest(work, { skipState: true });
    const committed = err.details?.committed === true;
    expect(after, what).toBe(committed ? newDigest : oldDigest);
    const installed = JSON.parse(readFileSync(join(work, '.llm-upgrade', 'installed.json'), 'utf8')).version;
    expect(installed, what).toBe(committed ? '2.0.0' : '1.0.0');
    const left = await readdir(join(work, '.llm-upgrade'));
    for (const name of ['journal.json', 'staging', 'swap-backup']) expect(left, what).not.toContain(name);
    return what;
  }

  /**
   * With the pre-flight: a few caps, from refused (before the stop) to enough. Without it: every
   * cap from roomy down, until staging itself no longer fits (the steps below it never reach the swap).
   */
  async function sweep(unit: 'inodes' | 'pages', preflightCaps: number[], from: number): Promise<string[]> {
    const cap = (k: number) => (unit === 'inodes' ? { inodes: k } : { pages: k });
    const log: string[] = [];
    for (const k of preflightCaps) log.push(await attempt(cap(k), true));
    let beforeSwap = 0;
    for (let k = from; k >= 0 && beforeSwap < 2; k--) {
      const line = await attempt(cap(k), false);
      log.push(line);
      beforeSwap = /\/(stage|lock)\/changed=false/.test(line) ? beforeSwap + 1 : 0;
    }
    console.log(log.join('\n'));
    expect(
      log.some((l) => l.includes('preflight true') && /\/stage\/changed=false/.test(l)),
      'the pre-flight refused some',
    ).toBe(true);
    expect(
      log.some((l) => l.includes('preflight true') && l.endsWith('ok')),
      'the pre-flight let enough through',
    ).toBe(true);
    expect(
      log.some((l) => l.includes('preflight false') && l.includes('changed=true')),
      'the sweep reached the swap',
    ).toBe(true);
    return log;
  }

  it('inodes: the pre-flight refuses before the stop; without it every step rolls back by renames', async () => {
    await sweep('inodes', [8, 20, 40], 16);
  }, 240_000);

  it('bytes: the same, one page at a time', async () => {
    await sweep('pages', [6, 40], 9);
  }, 240_000);
});
