import { execFileSync, spawn } from 'node:child_process';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, identityOf, readStat, runningUnder, TestKit, versionAt, waitFor, type SampleInstall } from '@llm-upgrade/testkit';
import { CLI, ensureBuilt, runCli, treeDigest } from './helpers.js';

// Upgrades over real running processes: a fake Ollama server with engines and an orphaned
// engine, health checks against its HTTP port, rollback to the old server when health fails.
const kit = new TestKit();
let base: string;
const pkgs: Record<string, string> = {};
const trees: Record<string, SampleInstall> = {};

async function writeProfile(file: string, port: number): Promise<string> {
  await writeFile(
    file,
    JSON.stringify({
      name: 'fake-ollama',
      processes: { supervisor: [], server: ['ollama'], engine: ['llama-server'] },
      startCommand: ['bin/ollama', 'serve', '--port', String(port), '--engines', '1'],
      healthUrl: `http://127.0.0.1:${port}/api/version`,
    }),
  );
  return file;
}

let n = 0;
/** A fresh install of 0.5.0 made by apply, with its server running (1 engine) and one orphaned engine. */
async function runningInstall(): Promise<{ root: string; port: number; profile: string; old: number[] }> {
  const root = join(base, `install-${++n}`);
  const port = await freePort();
  const profile = await writeProfile(join(base, `profile-${n}.json`), port);
  const r = await runCli(['apply', pkgs['0.5.0']!, '--install-dir', root, '--profile', profile]);
  expect(r.code, r.stderr).toBe(0);
  const server = await kit.spawnTree(join(root, 'bin', 'ollama'), [
    'serve',
    '--port',
    String(port),
    '--engines',
    '2',
    '--',
    '--model',
    trees['0.5.0']!.model,
  ]);
  // A server that dies right after starting its engine leaves that engine orphaned.
  const crashed = await kit.spawnTree(join(root, 'bin', 'ollama'), [
    'serve',
    '--engines',
    '1',
    '--crash',
    '--',
    '--hold',
    join(root, 'lib', 'ollama', 'libggml-base.so'),
  ]);
  await crashed.exited;
  const orphan = crashed.ready!.engines[0]!;
  expect(identityOf(orphan)).not.toBeNull();
  expect(await versionAt(port)).toBe('0.5.0');
  return { root, port, profile, old: [server.pid, ...server.ready!.engines, orphan] };
}

beforeAll(async () => {
  ensureBuilt();
  base = await kit.makeTempDir('llm-upgrade-proc-');
  for (const v of ['0.5.0', '0.6.0', '0.6.1']) {
    trees[v] = await kit.makeSampleInstall({ version: v, base: join(base, `tree-${v}`) });
  }
  const pack = async (dir: string, version: string, smoke: string, out: string) => {
    const r = await runCli(['pack', dir, '--name', 'ollama', '--version', version, '--smoke', smoke, '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    return out;
  };
  pkgs['0.5.0'] = await pack(trees['0.5.0']!.root, '0.5.0', 'bin/ollama --version', join(base, 'ollama-0.5.0.tar.gz'));
  pkgs['0.6.0'] = await pack(trees['0.6.0']!.root, '0.6.0', 'bin/ollama --version', join(base, 'ollama-0.6.0.tar.gz'));
  // 0.7.0 whose smoke command claims 0.7.0 while its server still answers 0.6.1: health fails.
  const liar = trees['0.6.1']!.root;
  await writeFile(join(liar, 'bin', 'version.sh'), '#!/bin/sh\necho "ollama version is 0.7.0"\n');
  await chmod(join(liar, 'bin', 'version.sh'), 0o755);
  pkgs['0.7.0-bad-health'] = await pack(liar, '0.7.0', 'bin/version.sh', join(base, 'ollama-0.7.0-bad-health.tar.gz'));
  // 0.8.0 whose own binary prints another version: the post-check fails.
  pkgs['0.8.0-bad-smoke'] = await pack(trees['0.6.0']!.root, '0.8.0', 'bin/ollama --version', join(base, 'ollama-0.8.0-bad-smoke.tar.gz'));
}, 180_000);

afterEach(async () => {
  // Everything these tests start runs from the kit's temp dirs: kill it by pid between tests.
  for (const pid of runningUnder(base)) kit.track(pid);
});

afterAll(async () => {
  await kit.cleanup();
});

describe('apply over a running install', () => {
  it('stops server, engines and the orphan, swaps, restarts the new version and checks its health', async () => {
    const { root, port, profile, old } = await runningInstall();
    const r = await runCli([
      'apply',
      pkgs['0.6.0']!,
      '--install-dir',
      root,
      '--profile',
      profile,
      '--grace',
      '2s',
      '--timeout',
      '20s',
      '--json',
    ]);
    for (const pid of runningUnder(root)) kit.track(pid);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json).toMatchObject({
      ok: true,
      from: '0.5.0',
      to: '0.6.0',
      phase: 'commit',
      rolledBack: false,
      restarted: 'recorded',
      healthy: true,
    });
    const stoppedPids = (r.json.stopped as { pid: number }[]).map((p) => p.pid);
    for (const pid of old) {
      expect(stoppedPids).toContain(pid);
      expect(identityOf(pid)).toBeNull();
    }
    expect(await versionAt(port)).toBe('0.6.0');
    const now = runningUnder(root);
    expect(now.length).toBeGreaterThan(0);
    expect(now.some((pid) => old.includes(pid))).toBe(false);
    expect(await treeDigest(root, { skipState: true })).toBe(await treeDigest(trees['0.6.0']!.root));
    expect(r.json.downtimeMs).toBeGreaterThan(0);
  });

  it('a health check that fails rolls back and starts the old version again (exit 4)', async () => {
    const { root, port, profile, old } = await runningInstall();
    const before = await treeDigest(root, { skipState: true });
    const r = await runCli(
      ['apply', pkgs['0.7.0-bad-health']!, '--install-dir', root, '--profile', profile, '--grace', '2s', '--timeout', '6s', '--json'],
      { timeoutMs: 120_000 },
    );
    for (const pid of runningUnder(root)) kit.track(pid);
    expect(r.code, r.stdout + r.stderr).toBe(4);
    expect(r.json.error.code).toBe('ERR_HEALTH');
    expect(r.json.error.changed).toBe(true);
    expect(r.json.error.details.rolledBack).toBe(true);
    expect(await treeDigest(root, { skipState: true })).toBe(before);
    for (const pid of old) expect(identityOf(pid)).toBeNull();
    await waitFor(async () => (await versionAt(port)) === '0.5.0', { timeoutMs: 10_000, what: 'the old server to answer again' });
    expect(JSON.parse(await readFile(join(root, '.llm-upgrade', 'installed.json'), 'utf8')).version).toBe('0.5.0');
  });

  it('a smoke post-check that fails rolls back (exit 4)', async () => {
    const { root, port, profile } = await runningInstall();
    const before = await treeDigest(root, { skipState: true });
    const r = await runCli([
      'apply',
      pkgs['0.8.0-bad-smoke']!,
      '--install-dir',
      root,
      '--profile',
      profile,
      '--grace',
      '2s',
      '--timeout',
      '10s',
      '--json',
    ]);
    for (const pid of runningUnder(root)) kit.track(pid);
    expect(r.code, r.stdout + r.stderr).toBe(4);
    expect(r.json.error.code).toBe('ERR_POST_CHECK');
    expect(r.json.error.message).toContain('0.6.0');
    expect(await treeDigest(root, { skipState: true })).toBe(before);
    await waitFor(async () => (await versionAt(port)) === '0.5.0', { timeoutMs: 10_000, what: 'the old server to answer again' });
  });

  it('a file held open by a foreign process stops the upgrade before any swap (exit 3)', async () => {
    const { root, profile } = await runningInstall();
    const held = join(root, 'lib', 'ollama', 'libggml-base.so');
    const holder = spawn(
      process.execPath,
      ['-e', `require('fs').openSync(${JSON.stringify(held)}, 'r'); console.log('open'); setInterval(() => {}, 1000)`],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    kit.track(holder.pid!);
    await new Promise((r) => holder.stdout!.once('data', r));
    const before = await treeDigest(root);
    const r = await runCli([
      'apply',
      pkgs['0.6.0']!,
      '--install-dir',
      root,
      '--profile',
      profile,
      '--grace',
      '1s',
      '--timeout',
      '3s',
      '--json',
    ]);
    for (const pid of runningUnder(root)) kit.track(pid);
    holder.kill('SIGKILL');
    expect(r.code, r.stdout + r.stderr).toBe(3);
    expect(r.json.error.code).toBe('ERR_FILES_HELD');
    expect(r.json.error.message).toContain(`pid ${holder.pid}`);
    expect(r.json.error.message).toContain(held);
    // The server it stopped was started again, its output going to .llm-upgrade/ollama.log: nothing else changed.
    expect(
      (await treeDigest(root))
        .split('\n')
        .filter((l) => !l.startsWith('f .llm-upgrade/ollama.log '))
        .join('\n'),
    ).toBe(before);
  });
});

describe('recover after an upgrader died with processes frozen', () => {
  it("continues (SIGCONT) exactly the processes the dead upgrader recorded as frozen, never a Ctrl-Z'd one", async () => {
    const { root, profile, old } = await runningInstall();
    // The upgrader dies after its first journal write, just as its forced stop had frozen part of
    // the tree. The freeze and its record (what freezeKill writes before each SIGSTOP) are made
    // here by hand, owned by the dead upgrader's pid.
    let owner = { pid: 0, startKey: '' };
    const crashed = await runCli(['apply', pkgs['0.6.0']!, '--install-dir', root, '--profile', profile], {
      env: { LLM_UPGRADE_TEST_CRASH_AT_STEP: '1' },
      onSpawn: (pid) => (owner = { pid, startKey: identityOf(pid) ?? '0' }),
    });
    expect(crashed.signal).toBe('SIGKILL');
    const frozen = old.slice(0, 2);
    const userStopped = old[2]!; // the user's Ctrl-Z: stopped, but not by us
    for (const pid of [...frozen, userStopped]) process.kill(pid, 'SIGSTOP');
    await waitFor(() => [...frozen, userStopped].every((pid) => readStat(pid)?.state === 'T'), { what: 'processes to stop' });
    const frozenDir = await kit.makeTempDir('llm-upgrade-frozen-');
    await writeFile(
      join(frozenDir, `${owner.pid}.json`),
      JSON.stringify({ owner, frozen: frozen.map((pid) => ({ pid, startKey: identityOf(pid) })) }),
    );
    try {
      const r = await runCli(['recover', '--install-dir', root, '--profile', profile, '--json'], {
        env: { LLM_UPGRADE_FROZEN_DIR: frozenDir },
      });
      expect(r.code, r.stderr).toBe(0);
      expect([...r.json.thawed].sort()).toEqual([...frozen].sort());
      for (const pid of frozen) {
        expect(identityOf(pid)).not.toBeNull();
        expect(readStat(pid)?.state).not.toBe('T');
      }
      expect(readStat(userStopped)?.state).toBe('T');
      expect(r.json.action).toBe('rolled-back');
      // A second recover (and a no-op apply) finds no record left and continues nothing.
      const again = await runCli(['recover', '--install-dir', root, '--profile', profile, '--json'], {
        env: { LLM_UPGRADE_FROZEN_DIR: frozenDir },
      });
      expect(again.json.thawed).toEqual([]);
      expect(readStat(userStopped)?.state).toBe('T');
      const noop = await runCli(['apply', pkgs['0.5.0']!, '--install-dir', root, '--profile', profile, '--json'], {
        env: { LLM_UPGRADE_FROZEN_DIR: frozenDir },
      });
      expect(noop.code, noop.stderr).toBe(0);
      expect(readStat(userStopped)?.state).toBe('T');
    } finally {
      process.kill(userStopped, 'SIGCONT');
    }
  });
});

describe('self-relaunch', () => {
  it('an in-scope app that runs the upgrader is not killed by it: the upgrader relaunches detached', async () => {
    const root = join(base, 'self');
    const port = await freePort();
    const profile = await writeProfile(join(base, 'profile-self.json'), port);
    expect((await runCli(['apply', pkgs['0.5.0']!, '--install-dir', root, '--profile', profile])).code).toBe(0);
    // The "app": a binary under the root that runs the upgrader through system() and waits.
    const appSrc = join(base, 'app.c');
    await writeFile(appSrc, '#include <stdlib.h>\nint main(int c, char **v) { return c > 1 ? system(v[1]) != 0 : 2; }\n');
    const app = join(root, 'bin', 'updater-app');
    execFileSync('cc', ['-o', app, appSrc]);
    const log = join(base, 'self.log');
    const out = join(base, 'self.out');
    const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} apply ${pkgs['0.6.0']} --install-dir ${root} --profile ${profile} --json --log-file ${log} > ${out}`;
    const appRun = spawn(app, [cmd], { stdio: 'ignore' });
    kit.track(appRun.pid!);
    const code = await new Promise((r) => appRun.on('exit', r));
    expect(code).toBe(0);
    const first = JSON.parse(await readFile(out, 'utf8')) as { relaunched: boolean; pid: number; waitingFor: number };
    expect(first.relaunched).toBe(true);
    kit.track(first.pid);
    await waitFor(async () => (await readFile(join(root, '.llm-upgrade', 'installed.json'), 'utf8')).includes('"0.6.0"'), {
      timeoutMs: 30_000,
      what: 'the detached upgrader to finish',
    });
    await waitFor(() => identityOf(first.pid) === null, { timeoutMs: 10_000, what: 'the detached upgrader to exit' });
    const results = (await readFile(log, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; exitCode?: number; result?: { to?: string } });
    expect(results.filter((e) => e.type === 'result').map((e) => e.exitCode)).toEqual([0, 0]);
    expect(results.find((e) => e.type === 'result' && e.result?.to === '0.6.0')).toBeDefined();
  });
});
