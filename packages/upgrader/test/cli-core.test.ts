// The CLI's process commands (status, sweep, stop, holders) against a real running install:
// exit codes and JSON shapes of the contract (docs/design.md, "Exit codes" and "JSON shapes"), and the log file custom actions read.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TestKit, descendantsOf, identityOf, isAlive, readStat, waitFor } from '@llm-upgrade/testkit';
import { DEFAULTS } from '@llm-upgrade/core';
import { acquireLock } from '../src/transaction/lock.js';
import { ensureBuilt, runCli } from './helpers.js';

const kit = new TestKit();
afterEach(() => kit.cleanup());
beforeAll(() => ensureBuilt());

const PROCESS_KEYS = ['pid', 'ppid', 'name', 'exe', 'startTime', 'role', 'inScope', 'orphan'];

/** A running install: a server whose engine ignores SIGTERM, and an engine orphaned by a crashed frontend. */
async function runningInstall() {
  const inst = await kit.makeSampleInstall({ version: '1.0.0' });
  const server = await kit.spawnTree(inst.bin, ['serve', '--port', '0', '--engines', '1', '--', '--model', inst.model, '--ignore-term']);
  const crashed = await kit.spawnTree(inst.bin, ['serve', '--engines', '1', '--crash', '--', '--model', inst.model]);
  await crashed.exited;
  return { inst, server: server.pid, engine: server.ready!.engines[0]!, orphan: crashed.ready!.engines[0]! };
}

describe('llm-upgrade status / sweep / stop / holders', () => {
  it('status --json shows the forest with the orphan marked', async () => {
    const { inst, server, engine, orphan } = await runningInstall();
    const r = await runCli(['status', '--install-dir', inst.root, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const pids = r.json.processes.map((p: { pid: number }) => p.pid).sort((a: number, b: number) => a - b);
    expect(pids).toEqual([server, engine, orphan].sort((a, b) => a - b));
    for (const p of r.json.processes) expect(Object.keys(p)).toEqual(expect.arrayContaining(PROCESS_KEYS));
    expect(r.json.orphans.map((p: { pid: number }) => p.pid)).toEqual([orphan]);
    expect(r.json.processes.find((p: { pid: number }) => p.pid === server).role).toBe('server');
    // Not installed by llm-upgrade: the version comes from the profile's `bin/ollama --version`.
    expect(r.json.installed).toBeNull();
    expect(r.json.version).toBe('1.0.0');
  });

  it('sweep ends the orphan only; the server and its engine keep running', async () => {
    const { inst, server, engine, orphan } = await runningInstall();
    const dry = await runCli(['sweep', '--install-dir', inst.root, '--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(isAlive(orphan)).toBe(true);
    const r = await runCli(['sweep', '--install-dir', inst.root, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.ok).toBe(true);
    expect(r.json.stopped.map((p: { pid: number }) => p.pid)).toEqual([orphan]);
    expect(identityOf(orphan)).toBeNull();
    expect(isAlive(server) && isAlive(engine)).toBe(true);
  });

  it('sweep without --grace uses the sweep default (2 s), stop without it the stop default (5 s)', async () => {
    const inst = await kit.makeSampleInstall({ version: '1.0.0' });
    const crashed = await kit.spawnTree(inst.bin, ['serve', '--engines', '1', '--crash', '--', '--model', inst.model, '--ignore-term']);
    await crashed.exited;
    const orphan = crashed.ready!.engines[0]!;
    const stopPlan = await runCli(['stop', '--install-dir', inst.root, '--dry-run', '--json']);
    expect(stopPlan.code, stopPlan.stderr).toBe(0);
    expect(stopPlan.json).toMatchObject({ graceMs: DEFAULTS.stopGraceMs, timeoutMs: DEFAULTS.timeoutMs });
    const r = await runCli(['sweep', '--install-dir', inst.root, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ ok: true, graceMs: DEFAULTS.sweepGraceMs, timeoutMs: DEFAULTS.timeoutMs });
    expect(DEFAULTS.sweepGraceMs).toBeLessThan(DEFAULTS.stopGraceMs);
    // The orphan ignores SIGTERM: it was forced, and only once the grace had run out.
    expect(r.json.stopped).toEqual([expect.objectContaining({ pid: orphan, how: 'killed' })]);
    expect(r.json.durationMs).toBeGreaterThanOrEqual(DEFAULTS.sweepGraceMs);
    expect(identityOf(orphan)).toBeNull();
    const given = await runCli(['sweep', '--install-dir', inst.root, '--grace', '700ms', '--json']);
    expect(given.json).toMatchObject({ ok: true, graceMs: 700 });
  });

  it('stop --dry-run changes nothing; stop ends everything and logs JSON lines', async () => {
    const { inst, server, engine, orphan } = await runningInstall();
    const dry = await runCli(['stop', '--install-dir', inst.root, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('would stop 3 process(es)');
    expect([server, engine, orphan].every(isAlive)).toBe(true);

    const log = join(inst.base, 'logs', 'stop.log');
    const r = await runCli(['stop', '--install-dir', inst.root, '--grace', '300ms', '--json', '--log-file', log]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ ok: true, survivors: [], holders: [] });
    expect(typeof r.json.durationMs).toBe('number');
    const how = Object.fromEntries(r.json.stopped.map((p: { pid: number; how: string }) => [p.pid, p.how]));
    expect(how).toEqual({ [server]: 'terminated', [engine]: 'killed', [orphan]: 'terminated' });
    for (const pid of [server, engine, orphan]) expect(identityOf(pid)).toBeNull();
    const events = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string });
    expect(events[0]!.type).toBe('start');
    expect(events.at(-1)).toMatchObject({ type: 'result', exitCode: 0 });
    expect(events.some((e) => e.type === 'signal')).toBe(true);
  });

  it('exit 3 names a foreign process still holding a file, and leaves it running', async () => {
    const { inst } = await runningInstall();
    // A process outside the install (an antivirus, `tail -f`) with a library of the install open.
    const outside = await kit.makeSampleInstall({ version: '1.0.0' });
    const foreign = await kit.spawnTree(outside.engine, ['engine', '--hold', inst.lib]);
    const r = await runCli(['stop', '--install-dir', inst.root, '--grace', '200ms', '--timeout', '1500ms', '--json']);
    expect(r.code, r.stderr).toBe(3);
    expect(r.json.ok).toBe(false);
    expect(r.json.holders).toEqual(
      expect.arrayContaining([expect.objectContaining({ pid: foreign.pid, path: inst.lib, kind: 'fd', inScope: false })]),
    );
    expect(isAlive(foreign.pid)).toBe(true);
    const human = await runCli(['stop', '--install-dir', inst.root, '--timeout', '500ms']);
    expect(human.code).toBe(3);
    expect(human.stderr).toContain(`pid ${foreign.pid}`);
    expect(human.stderr).toContain(inst.lib);
  });

  it('holders --json reports the contract shape and marks scope', async () => {
    const { inst, engine } = await runningInstall();
    const r = await runCli(['holders', '--install-dir', inst.root, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ clean: false, complete: expect.any(Boolean), unknown: expect.any(Array) });
    const mine = r.json.holders.filter((h: { pid: number }) => h.pid === engine);
    expect(mine.map((h: { kind: string }) => h.kind)).toContain('exe');
    for (const h of r.json.holders)
      expect(Object.keys(h)).toEqual(expect.arrayContaining(['pid', 'name', 'exe', 'path', 'kind', 'inScope']));
  });

  it('bad usage exits 2 with the error shape under --json', async () => {
    const r = await runCli(['stop', '--grace', 'soon', '--json']);
    expect(r.code).toBe(2);
    expect(r.json).toEqual({
      ok: false,
      error: expect.objectContaining({ code: 'ERR_USAGE', phase: 'usage', changed: false, hint: expect.any(String) }),
    });
  });
});

describe('scope arguments, locks and interrupts (issue 9)', () => {
  it('a positional path is a usage error naming --install-dir, and nothing is stopped', async () => {
    const { inst, server } = await runningInstall();
    for (const command of ['stop', 'sweep', 'status', 'holders']) {
      const r = await runCli([command, inst.root, '--dry-run', '--json']);
      expect(r.code, `${command}: ${r.stderr}`).toBe(2);
      expect(r.json.error).toMatchObject({ code: 'ERR_USAGE', changed: false });
      expect(r.json.error.hint).toContain(`--install-dir ${inst.root}`);
    }
    expect(isAlive(server)).toBe(true);
  });

  it('a root that does not exist is exit 2 ERR_NO_SUCH_ROOT naming it, never "nothing is held"', async () => {
    const base = await kit.makeTempDir();
    const missing = join(base, 'typo');
    for (const command of ['stop', 'sweep', 'status', 'holders', 'recover']) {
      const r = await runCli([command, '--install-dir', missing, '--json']);
      expect(r.code, `${command}: ${r.stderr}`).toBe(2);
      expect(r.json.error).toMatchObject({ code: 'ERR_NO_SUCH_ROOT', changed: false });
      expect(r.json.error.message).toContain(missing);
    }
    // Installer hooks before a first install: nothing to stop, and nothing created.
    const hook = await runCli(['stop', '--install-dir', missing, '--missing-ok', '--json']);
    expect(hook.code, hook.stderr).toBe(0);
    expect(hook.json).toMatchObject({ ok: true, stopped: [] });
    expect(existsSync(missing)).toBe(false);
  });

  it.each([
    '/',
    '/usr',
    '/usr/bin',
    '/usr/local',
    '/usr/local/bin',
    '/bin',
    '/sbin',
    '/lib',
    '/etc',
    '/var',
    '/opt',
    '/home',
    '/root',
    '/tmp',
    homedir(),
  ])('refuses the broad root %s (exit 2 ERR_ROOT_TOO_BROAD) for every command, dry run included', async (root) => {
    for (const command of ['stop', 'sweep', 'status', 'holders']) {
      const r = await runCli([command, '--install-dir', root, '--dry-run', '--json']);
      expect(r.code, `${command} ${root}: ${r.stderr}`).toBe(2);
      expect(r.json.error).toMatchObject({ code: 'ERR_ROOT_TOO_BROAD', changed: false, hint: expect.stringContaining('--install-dir') });
      expect(r.json.error.message).toContain(root);
    }
  });

  it('a single file in a system directory is a fine root', async () => {
    const r = await runCli(['holders', '--install-dir', '/usr/bin/env', '--json']);
    expect(r.code, r.stderr).toBe(0);
  });

  it('stop and sweep fail with exit 5 naming the holder while an upgrader holds the install lock, and signal nothing', async () => {
    const { inst, server, orphan } = await runningInstall();
    const lock = await acquireLock(inst.root, 'apply');
    try {
      for (const command of ['stop', 'sweep']) {
        const r = await runCli([command, '--install-dir', inst.root, '--grace', '100ms', '--json']);
        expect(r.code, r.stderr).toBe(5);
        expect(r.json.error).toMatchObject({ code: 'ERR_LOCKED', phase: 'lock' });
        expect(r.json.error.message).toContain(`pid ${process.pid}`);
      }
      expect([server, orphan].every(isAlive)).toBe(true);
    } finally {
      await lock.release();
    }
    // Unlocked, stop runs, and leaves no state directory behind in an install we did not make.
    const r = await runCli(['stop', '--install-dir', inst.root, '--grace', '200ms', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(inst.root, '.llm-upgrade'))).toBe(false);
  });

  it('SIGINT during the freeze: exit 130, one line saying so, and nothing left stopped', async () => {
    const inst = await kit.makeSampleInstall({ version: '1.0.0' });
    const storm = await kit.spawnTree(inst.bin, ['storm', '3', '--width', '3', '--churn-ms', '20', '--ignore-term']);
    await waitFor(() => descendantsOf([storm.pid]).size > 20, { what: 'the storm to grow' });
    const log = join(await kit.makeTempDir(), 'stop.log');
    let cli = 0;
    const sent = waitFor(() => existsSync(log) && readFileSync(log, 'utf8').includes('"freeze"'), {
      intervalMs: 2,
      timeoutMs: 20_000,
      what: 'the freeze',
    }).then(() => process.kill(cli, 'SIGINT'));
    // The hold keeps the tree frozen for a while, so the signal lands during the freeze even on a loaded machine.
    const r = await runCli(['stop', '--install-dir', inst.root, '--grace', '50ms', '--log-file', log], {
      onSpawn: (pid) => (cli = pid),
      env: { LLM_UPGRADE_TEST_FREEZE_HOLD_MS: '3000' },
    });
    await sent;
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toContain('SIGINT received');
    expect(r.stderr).toContain('interrupted by SIGINT');
    const pids = [storm.pid, ...descendantsOf([storm.pid])];
    expect(pids.filter((pid) => ['T', 't'].includes(readStat(pid)?.state ?? ''))).toEqual([]);
  });
});
