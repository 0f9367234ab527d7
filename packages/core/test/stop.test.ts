import { rm, copyFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TestKit, waitFor } from '@llm-upgrade/testkit';
import { status, stop, type CoreEvent } from '../src/index.js';
import { alive, liveUnder, placeRunner, VERSION } from './helpers.js';

const kit = new TestKit();
afterEach(() => kit.cleanup());

const install = () => kit.makeSampleInstall({ version: VERSION });

describe('stop: adversarial trees', () => {
  it('ends a server whose engines ignore SIGTERM: polite first, then forced', async () => {
    const inst = await install();
    const tree = await kit.spawnTree(inst.bin, ['serve', '--engines', '2', '--', '--ignore-term', '--model', inst.model]);
    const events: CoreEvent[] = [];
    const result = await stop({ roots: [inst.root], graceMs: 300, timeoutMs: 10_000, onEvent: (e) => events.push(e) });
    expect(result.ok).toBe(true);
    expect(result.survivors).toEqual([]);
    expect(liveUnder(inst.root)).toEqual([]);
    const how = new Map(result.stopped.map((p) => [p.pid, p.how]));
    expect(how.get(tree.pid)).toBe('terminated');
    for (const engine of tree.ready?.engines ?? []) expect(how.get(engine)).toBe('killed');
    expect(events.some((e) => e.type === 'signal' && e.signal === 'SIGTERM' && e.pid === tree.pid)).toBe(true);
    expect(events.some((e) => e.type === 'freeze')).toBe(true);
    expect(result.holders).toEqual([]);
  });

  it('finds double-forked setsid engines whose parent is not the server, and ends them', async () => {
    const inst = await install();
    const tree = await kit.spawnTree(inst.bin, ['serve', '--engines', '2', '--orphan']);
    const engines = tree.ready?.engines ?? [];
    expect(engines).toHaveLength(2);
    const before = await status({ roots: [inst.root] });
    expect(before.orphans.map((p) => p.pid).sort()).toEqual([...engines].sort());
    const result = await stop({ roots: [inst.root], graceMs: 300 });
    expect(result.ok).toBe(true);
    expect(engines.some(alive)).toBe(false);
    expect(alive(tree.pid)).toBe(false);
  });

  it('ends the engines a frontend killed with -9 left behind', async () => {
    const inst = await install();
    const tree = await kit.spawnTree(inst.bin, ['serve', '--engines', '3', '--crash', '--', '--ignore-term']);
    await tree.exited;
    const engines = tree.ready?.engines ?? [];
    expect(engines.filter(alive)).toHaveLength(3);
    const before = await status({ roots: [inst.root] });
    expect(before.orphans.map((p) => p.pid).sort()).toEqual([...engines].sort());
    const result = await stop({ roots: [inst.root], graceMs: 200 });
    expect(result.ok).toBe(true);
    expect(engines.filter(alive)).toEqual([]);
    expect(
      result.stopped
        .filter((p) => p.how === 'killed')
        .map((p) => p.pid)
        .sort(),
    ).toEqual([...engines].sort());
  });

  it('outruns a fork storm that keeps replacing its children during the kill', async () => {
    const inst = await install();
    await kit.spawnTree(inst.bin, ['storm', '4', '--width', '3', '--churn-ms', '20', '--ignore-term']);
    await waitFor(() => liveUnder(inst.root).length > 60, { what: 'the storm to grow' });
    const result = await stop({ roots: [inst.root], graceMs: 100, timeoutMs: 15_000 });
    expect(result.survivors).toEqual([]);
    expect(result.ok).toBe(true);
    expect(liveUnder(inst.root)).toEqual([]);
    // Every parent of the 3x4 tree (1 + 3 + 9 + 27) was frozen and killed; leaves come and go.
    expect(result.stopped.filter((p) => p.how === 'killed').length).toBeGreaterThanOrEqual(40);
  });

  it('ends a respawning supervisor (it ignores SIGTERM and restarts the server) before it can refill', async () => {
    const inst = await install();
    const supervisor = await placeRunner(kit, join(inst.root, 'ollama app'));
    const tree = await kit.spawnTree(supervisor, ['supervise', '--ignore-term', '--', inst.bin, 'serve', '--engines', '1']);
    const firstServer = tree.ready?.child ?? 0;
    await waitFor(() => liveUnder(inst.root).length >= 3, { what: 'server and engine' });
    const scoped = await status({ roots: [inst.root] });
    expect(scoped.processes.find((p) => p.pid === tree.pid)?.role).toBe('supervisor');
    expect(scoped.processes.find((p) => p.pid === firstServer)?.role).toBe('server');
    const result = await stop({ roots: [inst.root], graceMs: 1000, timeoutMs: 10_000 });
    expect(result.ok).toBe(true);
    expect(liveUnder(inst.root)).toEqual([]);
    expect(result.stopped.find((p) => p.pid === tree.pid)?.how).toBe('killed');
    // The server we asked to exit was replaced by the supervisor; the replacement was killed too.
    expect(result.stopped.some((p) => p.role === 'server' && p.pid !== firstServer)).toBe(true);
  });

  it('treats a zombie as gone', async () => {
    const inst = await install();
    const tree = await kit.spawnTree(inst.bin, ['serve', '--engines', '1', '--zombie']);
    const zombie = tree.ready?.zombie ?? 0;
    expect(zombie).toBeGreaterThan(0);
    const result = await stop({ roots: [inst.root], graceMs: 300 });
    expect(result.ok).toBe(true);
    expect(result.plan.map((p) => p.pid)).not.toContain(zombie);
    expect(result.survivors).toEqual([]);
  });

  it('spares the same binary under the same name outside the root', async () => {
    const inst = await install();
    const elsewhere = await kit.makeTempDir('llm-upgrade-other-vendor-');
    const foreignServer = await placeRunner(kit, join(elsewhere, 'bin', 'ollama'));
    const foreignEngine = await placeRunner(kit, join(elsewhere, 'lib', 'ollama', 'llama-server'));
    const theirs = await kit.spawnTree(foreignServer, ['serve', '--engines', '1']);
    const lone = await kit.spawnTree(foreignEngine, ['engine']);
    await kit.spawnTree(inst.bin, ['serve', '--engines', '2']);
    const result = await stop({ roots: [inst.root], graceMs: 300 });
    expect(result.ok).toBe(true);
    expect(liveUnder(inst.root)).toEqual([]);
    for (const pid of [theirs.pid, ...(theirs.ready?.engines ?? []), lone.pid]) expect(alive(pid)).toBe(true);
    expect(result.stopped.map((p) => p.pid)).not.toContain(lone.pid);
  });

  it('reports and spares a foreign process whose working directory is in the root (a warning, not a failure)', async () => {
    const inst = await install();
    const sleeper = await kit.spawnTree('/bin/sleep', ['600'], { cwd: join(inst.root, 'lib'), waitReady: false });
    await kit.spawnTree(inst.bin, ['serve', '--engines', '1']);
    const result = await stop({ roots: [inst.root], graceMs: 300 });
    expect(result.ok).toBe(true);
    expect(alive(sleeper.pid)).toBe(true);
    expect(result.holders).toContainEqual(
      expect.objectContaining({ pid: sleeper.pid, kind: 'cwd', inScope: false, path: join(inst.root, 'lib') }),
    );
    expect(result.warnings.some((w) => w.includes(`pid ${sleeper.pid}`))).toBe(true);
  });

  it('fails (ok:false, no throw) while a foreign process keeps a file open, and never kills it', async () => {
    const inst = await install();
    const elsewhere = await kit.makeTempDir('llm-upgrade-reader-');
    const reader = await placeRunner(kit, join(elsewhere, 'reader'));
    const holder = await kit.spawnTree(reader, ['engine', '--hold', inst.lib]);
    const result = await stop({ roots: [inst.root], graceMs: 100, timeoutMs: 1200 });
    expect(result.ok).toBe(false);
    expect(result.survivors).toEqual([]);
    expect(result.holders).toContainEqual(expect.objectContaining({ pid: holder.pid, kind: 'fd', path: inst.lib, inScope: false }));
    expect(alive(holder.pid)).toBe(true);
  });

  it('handles names over 15 characters, spaces and parentheses in paths', async () => {
    const base = await kit.makeTempDir('llm-upgrade-spaces-');
    const root = join(base, 'My Apps (x86)', 'Ollama Install');
    const long = await placeRunner(kit, join(root, 'bin', 'a-very-long-engine-name-over-15'));
    const server = await placeRunner(kit, join(root, 'bin', 'ollama'));
    await placeRunner(kit, join(root, 'lib', 'ollama', 'llama-server'));
    const longTree = await kit.spawnTree(long, ['engine']);
    const tree = await kit.spawnTree(server, ['serve', '--engines', '1'], { cwd: root });
    const seen = await status({ roots: [root] });
    const longProc = seen.processes.find((p) => p.pid === longTree.pid);
    expect(longProc).toMatchObject({ name: 'a-very-long-engine-name-over-15', exe: long, inScope: true });
    expect(seen.processes.map((p) => p.pid)).toEqual(expect.arrayContaining([tree.pid, ...(tree.ready?.engines ?? [])]));
    const result = await stop({ roots: [root], graceMs: 300 });
    expect(result.ok).toBe(true);
    expect(liveUnder(root)).toEqual([]);
    expect(result.stopped.map((p) => p.name)).toContain('a-very-long-engine-name-over-15');
  });

  it('shows a replaced executable as (deleted), still in scope, and ends it', async () => {
    const inst = await install();
    const tree = await kit.spawnTree(inst.bin, ['serve', '--engines', '1']);
    await rm(inst.bin);
    await copyFile(inst.engine, inst.bin); // the upgrade put a new file in place
    await chmod(inst.bin, 0o755);
    const seen = await status({ roots: [inst.root] });
    const server = seen.processes.find((p) => p.pid === tree.pid);
    expect(server).toMatchObject({ exe: inst.bin, exeDeleted: true, inScope: true, role: 'server' });
    expect(seen.holders.holders).toContainEqual(expect.objectContaining({ pid: tree.pid, kind: 'exe', deleted: true }));
    const result = await stop({ roots: [inst.root], graceMs: 300 });
    expect(result.ok).toBe(true);
    expect(alive(tree.pid)).toBe(false);
  });

  it('dry run computes the plan and changes nothing', async () => {
    const inst = await install();
    const tree = await kit.spawnTree(inst.bin, ['serve', '--engines', '2', '--', '--ignore-term']);
    const result = await stop({ roots: [inst.root], dryRun: true });
    expect(result.dryRun).toBe(true);
    expect(result.plan.map((p) => p.pid).sort()).toEqual([tree.pid, ...(tree.ready?.engines ?? [])].sort());
    expect(result.stopped).toEqual([]);
    expect([tree.pid, ...(tree.ready?.engines ?? [])].every(alive)).toBe(true);
  });

  it('an empty or missing root is nothing to stop', async () => {
    const base = await kit.makeTempDir();
    const result = await stop({ roots: [join(base, 'not-installed-yet')], graceMs: 100 });
    expect(result).toMatchObject({ ok: true, stopped: [], survivors: [], holders: [] });
  });
});
