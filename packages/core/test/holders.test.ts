import { execFileSync } from 'node:child_process';
import { mkdir, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TestKit } from '@llm-upgrade/testkit';
import { scanHolders, type HolderReport } from '../src/index.js';
import { bundleRunCore, placeRunner, VERSION } from './helpers.js';

const kit = new TestKit();
afterEach(() => kit.cleanup());

describe('holders: every kind', () => {
  it('finds exe, fd, mmap-only, deleted-open, deleted-mapped and cwd holders, in scope or foreign', async () => {
    const inst = await kit.makeSampleInstall({ version: VERSION });
    const data = join(inst.root, 'data');
    await mkdir(data);
    const files = {
      open: join(data, 'open.bin'),
      mapped: join(data, 'mapped.bin'),
      delOpen: join(data, 'deleted-open.bin'),
      delMapped: join(data, 'deleted-mapped.bin'),
    };
    for (const f of Object.values(files)) await writeFile(f, Buffer.alloc(8192, 3));
    const outside = await kit.makeTempDir('llm-upgrade-foreign-');
    const foreign = await placeRunner(kit, join(outside, 'reader'));

    const server = await kit.spawnTree(inst.bin, ['serve']);
    const fd = await kit.spawnTree(foreign, ['engine', '--hold', files.open]);
    const map = await kit.spawnTree(foreign, ['engine', '--model', files.mapped]); // fd closed after mmap
    const delOpen = await kit.spawnTree(foreign, ['engine', '--hold', files.delOpen]);
    const delMapped = await kit.spawnTree(foreign, ['engine', '--model', files.delMapped]);
    const cwd = await kit.spawnTree('/bin/sleep', ['600'], { cwd: data, waitReady: false });
    await unlink(files.delOpen);
    await unlink(files.delMapped);

    const report = await scanHolders({ roots: [inst.root] });
    const expectHolder = (pid: number, kind: string, path: string, more: Record<string, unknown> = {}) =>
      expect(report.holders).toContainEqual(expect.objectContaining({ pid, kind, path, ...more }));
    expectHolder(server.pid, 'exe', inst.bin, { inScope: true });
    expectHolder(fd.pid, 'fd', files.open, { inScope: false });
    expectHolder(map.pid, 'map', files.mapped, { inScope: false });
    expect(report.holders.filter((h) => h.pid === map.pid && h.kind === 'fd')).toEqual([]);
    expectHolder(delOpen.pid, 'fd', files.delOpen, { deleted: true });
    expectHolder(delMapped.pid, 'map', files.delMapped, { deleted: true });
    expectHolder(cwd.pid, 'cwd', data, { inScope: false });
    expect(report.clean).toBe(false);
    // Root reads every fixture (a sandbox's pid 1 may still be unreadable: that one is listed, never hidden).
    const unknown = report.unknown.map((p) => p.pid);
    for (const t of [server, fd, map, delOpen, delMapped, cwd]) expect(unknown).not.toContain(t.pid);
    expect(report.complete).toBe(report.unknown.length === 0);
  });

  it('a root that is a single file matches that file only', async () => {
    const inst = await kit.makeSampleInstall({ version: VERSION });
    const server = await kit.spawnTree(inst.bin, ['serve', '--engines', '1']);
    const report = await scanHolders({ roots: [inst.lib] });
    expect(report.holders).toEqual([]);
    const byBin = await scanHolders({ roots: [inst.bin] });
    expect(byBin.holders.map((h) => [h.pid, h.kind])).toEqual([[server.pid, 'exe']]);
  });
});

const isRoot = process.getuid?.() === 0;
const hasNobody = (() => {
  try {
    return execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).trim() === '65534';
  } catch {
    return false;
  }
})();
const skipReason = !isRoot ? 'not root: cannot start a scan as user nobody' : !hasNobody ? 'no user nobody (uid 65534)' : '';
if (skipReason) console.warn(`[holders.test] skipping the unprivileged scan: ${skipReason}`);

describe.skipIf(skipReason !== '')('holders: unprivileged scan', () => {
  it('as nobody, lists root-owned processes it cannot read under unknown and says complete:false', async () => {
    const inst = await kit.makeSampleInstall({ version: VERSION });
    const bundle = await bundleRunCore(kit);
    const rootOwned = await kit.spawnTree(inst.bin, ['serve', '--engines', '1']);
    const own = await kit.spawnTree(inst.engine, ['engine', '--model', inst.lib], { uid: 65534, gid: 65534 });

    const scan = await kit.spawnTree(process.execPath, [bundle, 'holders', JSON.stringify([inst.root])], {
      uid: 65534,
      gid: 65534,
      cwd: inst.base,
      waitReady: false,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    await scan.exited;
    const line = scan.stdout().trim().split('\n').pop() ?? '';
    const out = JSON.parse(line) as { ok: boolean; result: HolderReport };
    expect(out.ok).toBe(true);
    const report = out.result;
    expect(report.complete).toBe(false);
    const unknown = report.unknown.map((p) => p.pid);
    expect(unknown).toEqual(expect.arrayContaining([rootOwned.pid, ...(rootOwned.ready?.engines ?? [])]));
    expect(unknown).not.toContain(own.pid);
    // What it can read, it reports: its own engine runs from the root and maps a file in it.
    expect(report.holders).toContainEqual(expect.objectContaining({ pid: own.pid, kind: 'exe', path: inst.engine, inScope: true }));
    expect(report.holders).toContainEqual(expect.objectContaining({ pid: own.pid, kind: 'map', path: inst.lib }));
    expect(report.holders.map((h) => h.pid)).not.toContain(rootOwned.pid);
  });

  it('as nobody under a /proc mounted with hidepid, says complete:false even with nothing listed as unknown', async (ctx) => {
    const hasTools = ['unshare', 'setpriv'].every((t) => {
      try {
        execFileSync('sh', ['-c', `command -v ${t}`]);
        return true;
      } catch {
        return false;
      }
    });
    if (!hasTools) {
      console.warn('[holders.test] skipping the hidepid scan: unshare or setpriv missing');
      ctx.skip();
    }
    const inst = await kit.makeSampleInstall({ version: VERSION });
    const bundle = await bundleRunCore(kit);
    const rootOwned = await kit.spawnTree(inst.bin, ['serve', '--engines', '1']);
    // A private mount namespace with its own /proc instance: the host's /proc is untouched.
    const script = 'mount -t proc -o hidepid=2 proc /proc && exec setpriv --reuid 65534 --regid 65534 --clear-groups "$0" "$@"';
    const scan = await kit.spawnTree(
      'unshare',
      ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, process.execPath, bundle, 'holders', JSON.stringify([inst.root])],
      {
        cwd: inst.base,
        waitReady: false,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      },
    );
    const exit = await scan.exited;
    if (exit.code !== 0 && /mount/.test(scan.stderr())) {
      console.warn(`[holders.test] skipping the hidepid scan: cannot mount proc here (${scan.stderr().trim()})`);
      ctx.skip();
    }
    const out = JSON.parse(scan.stdout().trim().split('\n').pop() ?? '') as { ok: boolean; result: HolderReport };
    expect(out.ok).toBe(true);
    expect(out.result.unknown.map((p) => p.pid)).not.toContain(rootOwned.pid); // invisible, not even unknown
    expect(out.result.hidden).toMatch(/hidepid=(2|invisible)/); // newer kernels print hidepid=2 as invisible
    expect(out.result.complete).toBe(false);
  });
});
