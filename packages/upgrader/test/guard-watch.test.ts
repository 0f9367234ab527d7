import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestKit, waitFor, type SampleInstall } from '@llm-upgrade/testkit';
import { ensureBuilt, runCli } from './helpers.js';
import { allGone, isGone, readReadyFile, startCli } from './guard-helpers.js';

// `llm-upgrade watch`: two servers of one install, each with engines, plus an engine started
// from a shell. SIGKILL one server: its (now orphaned) engines end within 1.5 s; the other
// server, its engines and the shell's engine are untouched; SIGTERM ends the watcher with 0.
const kit = new TestKit();
let inst: SampleInstall;

beforeAll(async () => {
  ensureBuilt();
  inst = await kit.makeSampleInstall({ version: '0.9.1' });
});
afterAll(() => kit.cleanup());

describe('llm-upgrade watch', () => {
  it('ends the engines of a killed server within 1.5 s and nothing else; SIGTERM exits 0', async () => {
    const dir = await kit.makeTempDir('llm-upgrade-watch-');
    const a = await kit.spawnTree(inst.bin, ['serve', '--port', '0', '--engines', '2', '--', '--model', inst.model]);
    const b = await kit.spawnTree(inst.bin, ['serve', '--port', '0', '--engines', '1', '--', '--model', inst.model]);
    // An engine whose parent is a shell (not in the install): not an orphan, never ended.
    const shell = spawn('/bin/sh', ['-c', `"${inst.engine}" engine --ready-file "${dir}/shell-engine"; exit 0`], { stdio: 'ignore' });
    kit.track(shell.pid!);
    const shellEngine = (await readReadyFile(join(dir, 'shell-engine'))).pid;
    kit.track(shellEngine);

    const watch = startCli(['watch', '--install-dir', inst.root, '--grace', '1s', '--log-file', join(dir, 'watch.log')]);
    kit.track(watch.pid);
    await waitFor(() => watch.stderr().includes('watching'), { timeoutMs: 20_000, what: 'watch to start' });
    // Give the first rescan time to see both trees (and open their pidfds).
    await new Promise((r) => setTimeout(r, 500));
    expect(watch.stderr()).toContain('pidfd events');

    const t0 = Date.now();
    process.kill(a.pid, 'SIGKILL');
    const ms = await allGone(a.ready!.engines, t0, 5_000);
    expect(ms).toBeLessThanOrEqual(1_500);

    await new Promise((r) => setTimeout(r, 2_500)); // a full rescan later, still untouched
    for (const pid of [b.pid, ...b.ready!.engines, shellEngine, shell.pid!]) expect(isGone(pid), `pid ${pid}`).toBe(false);

    process.kill(watch.pid, 'SIGTERM');
    const exit = await watch.exit;
    expect(exit.code, watch.stderr()).toBe(0);
    expect(watch.stderr()).toMatch(/ended .*llama-server/);
  });

  it('a server started after watch, and a shell whose engine it orphans by dying, are followed', async () => {
    const dir = await kit.makeTempDir('llm-upgrade-watch-late-');
    const watch = startCli(['watch', '--install-dir', inst.root, '--grace', '1s']);
    kit.track(watch.pid);
    await waitFor(() => watch.stderr().includes('watching'), { timeoutMs: 20_000, what: 'watch to start' });
    const late = await kit.spawnTree(inst.bin, ['serve', '--port', '0', '--engines', '1', '--', '--model', inst.model]);
    const shell = spawn('/bin/sh', ['-c', `"${inst.engine}" engine --ready-file "${dir}/e"; exit 0`], { stdio: 'ignore' });
    kit.track(shell.pid!);
    const shellEngine = (await readReadyFile(join(dir, 'e'))).pid;
    kit.track(shellEngine);
    await new Promise((r) => setTimeout(r, 2_500)); // one rescan: both discovered, their parents watched
    expect(isGone(shellEngine)).toBe(false);

    let t0 = Date.now();
    process.kill(late.pid, 'SIGKILL');
    expect(await allGone(late.ready!.engines, t0, 5_000)).toBeLessThanOrEqual(1_500);
    // The shell dies: its engine is reparented (parent gone), so now it is an orphan.
    t0 = Date.now();
    process.kill(shell.pid!, 'SIGKILL');
    expect(await allGone([shellEngine], t0, 5_000)).toBeLessThanOrEqual(1_500);

    process.kill(watch.pid, 'SIGTERM');
    expect((await watch.exit).code, watch.stderr()).toBe(0);
  });

  it('--install-service --dry-run renders the unit and the systemctl steps', async () => {
    const r = await runCli(['watch', '--install-dir', inst.root, '--install-service', '--user', '--dry-run', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.unit).toContain(`watch --install-dir ${inst.root}`);
    expect(r.json.path).toMatch(/systemd\/user\/llm-upgrade-watch\.service$/);
    expect(r.json.steps[1]).toEqual(['systemctl', '--user', 'enable', '--now', 'llm-upgrade-watch.service']);
  });
});
