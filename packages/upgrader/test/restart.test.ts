import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, readStat, runningUnder, TestKit, versionAt, waitFor, type SampleInstall } from '@llm-upgrade/testkit';
import { ensureBuilt, runCli, sleep, treeDigest } from './helpers.js';

// Restart what ran, as it ran (argv, cwd, environment; the binary now the new version), and
// a health gate relative to before: where the server really listened, or, when it never
// answered, that the new one stays up and listens where the old one did. Then Ctrl-C.
const kit = new TestKit();
let base: string;
const pkgs: Record<string, string> = {};
const trees: Record<string, SampleInstall> = {};
let n = 0;

beforeAll(async () => {
  ensureBuilt();
  base = await kit.makeTempDir('llm-upgrade-restart-');
  for (const v of ['0.5.0', '0.6.0']) {
    trees[v] = await kit.makeSampleInstall({ version: v, base: join(base, `tree-${v}`) });
    const r = await runCli([
      'pack',
      trees[v]!.root,
      '--name',
      'ollama',
      '--version',
      v,
      '--smoke',
      'bin/ollama --version',
      '--out',
      join(base, `ollama-${v}.tar.gz`),
    ]);
    expect(r.code, r.stderr).toBe(0);
    pkgs[v] = join(base, `ollama-${v}.tar.gz`);
  }
}, 180_000);

afterEach(() => {
  for (const pid of runningUnder(base)) kit.track(pid);
});

afterAll(() => kit.cleanup());

async function installed(): Promise<string> {
  const root = join(base, `install-${++n}`);
  const r = await runCli(['apply', pkgs['0.5.0']!, '--install-dir', root]);
  expect(r.code, r.stderr).toBe(0);
  return root;
}

const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
const environ = (pid: number) => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
/** The top-level process of the install running now (its parent is not in the install). */
function topLevelUnder(root: string): number[] {
  const pids = runningUnder(root).filter((p) => readStat(p)?.state !== 'Z');
  return pids.filter((p) => !pids.includes(readStat(p)!.ppid));
}
const sameFile = (a: string, b: string) => statSync(a).ino === statSync(b).ino && statSync(a).dev === statSync(b).dev;

describe('restart what ran, as it ran', () => {
  it('keeps argv, cwd and environment; health is asked where the server listened (not the profile port)', async () => {
    const root = await installed();
    const port = await freePort();
    const cwd = await kit.makeTempDir('llm-upgrade-cwd-');
    const env = { ...process.env, OLLAMA_MODELS: join(cwd, 'models'), MY_SETTING: 'kept across upgrades' };
    const old = await kit.spawnTree(join(root, 'bin', 'ollama'), ['serve', '--port', String(port), '--engines', '1'], { cwd, env });
    expect(await versionAt(port)).toBe('0.5.0');
    const r = await runCli(['apply', pkgs['0.6.0']!, '--install-dir', root, '--grace', '2s', '--timeout', '20s', '--json']);
    for (const pid of runningUnder(root)) kit.track(pid);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json).toMatchObject({ to: '0.6.0', restarted: 'recorded', healthy: true });
    expect(await versionAt(port)).toBe('0.6.0');
    const [now, ...more] = topLevelUnder(root);
    expect(more).toEqual([]);
    expect(now).not.toBe(old.pid);
    expect(cmdline(now!)).toEqual(
      cmdline(old.pid === now ? now : now!)
        .slice(0, 1)
        .concat(['serve', '--port', String(port), '--engines', '1']),
    );
    expect(cmdline(now!)[0]).toBe(join(root, 'bin', 'ollama'));
    expect(readlinkSync(`/proc/${now}/cwd`)).toBe(cwd);
    expect(environ(now!)).toContain(`OLLAMA_MODELS=${join(cwd, 'models')}`);
    expect(environ(now!)).toContain('MY_SETTING=kept across upgrades');
    expect(sameFile(`/proc/${now}/exe`, join(root, 'bin', 'ollama'))).toBe(true);
    // The journal that recorded the environment is gone; the log of the new server is named.
    expect(r.stderr + JSON.stringify(r.json)).not.toContain('MY_SETTING');
  });

  it('a server configured only by OLLAMA_HOST listens there again after the upgrade (its environment is kept)', async () => {
    const root = await installed();
    const port = await freePort();
    await kit.spawnTree(join(root, 'bin', 'ollama'), ['serve'], { env: { ...process.env, OLLAMA_HOST: `127.0.0.1:${port}` } });
    expect(await versionAt(port)).toBe('0.5.0');
    const r = await runCli(['apply', pkgs['0.6.0']!, '--install-dir', root, '--grace', '2s', '--timeout', '20s', '--json']);
    for (const pid of runningUnder(root)) kit.track(pid);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json.healthy).toBe(true);
    expect(await versionAt(port)).toBe('0.6.0');
    const [now] = topLevelUnder(root);
    expect(cmdline(now!).slice(1)).toEqual(['serve']);
    expect(environ(now!)).toContain(`OLLAMA_HOST=127.0.0.1:${port}`);
  });

  it('a server without HTTP: restarted with its argv, must stay up; the report says so', async () => {
    const root = await installed();
    const old = await kit.spawnTree(join(root, 'bin', 'ollama'), ['engine']);
    const r = await runCli(['apply', pkgs['0.6.0']!, '--install-dir', root, '--grace', '2s', '--timeout', '20s', '--json']);
    for (const pid of runningUnder(root)) kit.track(pid);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json.healthy).toBeNull();
    expect(r.json.warnings.join('\n')).toMatch(
      /did not answer before the upgrade either, so the health gate checked that the new server stays up 3 s/,
    );
    const [now] = topLevelUnder(root);
    expect(now).toBeDefined();
    expect(now).not.toBe(old.pid);
    expect(cmdline(now!).slice(1)).toEqual(['engine']);
    expect(sameFile(`/proc/${now}/exe`, join(root, 'bin', 'ollama'))).toBe(true);
  });

  it('a server without HTTP whose new version does not stay up: rolled back, the old one runs again (exit 4)', async () => {
    const root = await installed();
    const broken = join(base, `broken-${n}`);
    execFileSync('cp', ['-a', trees['0.6.0']!.root, broken]);
    await writeFile(
      join(broken, 'bin', 'ollama'),
      '#!/bin/sh\nif [ "$1" = --version ]; then echo "ollama version is 0.7.0"; exit 0; fi\necho "cannot start: $*" >&2\nexit 3\n',
    );
    const pkg = join(base, `broken-${n}.tar.gz`);
    expect(
      (await runCli(['pack', broken, '--name', 'ollama', '--version', '0.7.0', '--smoke', 'bin/ollama --version', '--out', pkg])).code,
    ).toBe(0);
    const old = await kit.spawnTree(join(root, 'bin', 'ollama'), ['engine']);
    const before = await treeDigest(root, { skipState: true });
    const r = await runCli(['apply', pkg, '--install-dir', root, '--grace', '2s', '--timeout', '20s', '--json']);
    for (const pid of runningUnder(root)) kit.track(pid);
    expect(r.code, r.stdout + r.stderr).toBe(4);
    expect(r.json.error.code).toBe('ERR_HEALTH');
    expect(r.json.error.message).toMatch(/the restarted server \(pid \d+\) exited/);
    expect(r.json.error.message).toContain(join(root, '.llm-upgrade', 'ollama.log'));
    expect(readFileSync(join(root, '.llm-upgrade', 'ollama.log'), 'utf8')).toContain('cannot start: engine');
    expect(r.json.error.details.rolledBack).toBe(true);
    expect(await treeDigest(root, { skipState: true })).toBe(before);
    await waitFor(() => topLevelUnder(root).length === 1, { timeoutMs: 10_000, what: 'the old server to run again' });
    const [now] = topLevelUnder(root);
    expect(now).not.toBe(old.pid);
    expect(cmdline(now!).slice(1)).toEqual(['engine']);
    // Without --json the CLI says it was rolled back, not that "changes were made".
    const human = await runCli(['apply', pkg, '--install-dir', root, '--grace', '2s', '--timeout', '20s']);
    for (const pid of runningUnder(root)) kit.track(pid);
    expect(human.code).toBe(4);
    expect(human.stderr).toContain('rolled back: the install is as it was');
    expect(human.stderr).not.toContain('changes were made');
  });

  it('a server whose health URL never answered must listen again where it listened', async () => {
    const root = await installed();
    const port = await freePort();
    // The profile asks /health, which this server does not serve (404): not healthy before either.
    const profile = join(base, `profile-${n}.json`);
    await writeFile(
      profile,
      JSON.stringify({
        name: 'fake-ollama',
        processes: { supervisor: [], server: ['ollama'], engine: ['llama-server'] },
        healthUrl: 'http://127.0.0.1:11434/health',
      }),
    );
    await kit.spawnTree(join(root, 'bin', 'ollama'), ['serve', '--port', String(port)]);
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
    expect(r.json.warnings.join('\n')).toContain(`http://127.0.0.1:${port}/health did not answer before the upgrade either`);
    expect(r.json.warnings.join('\n')).toContain(`listens on port(s) ${port} again`);
    expect(await versionAt(port)).toBe('0.6.0');
  });
});

describe('interrupts', () => {
  it('an upgrader killed mid-swap: status names the interrupted transaction, recover finishes it and starts what ran', async () => {
    const root = await installed();
    const port = await freePort();
    const cwd = await kit.makeTempDir('llm-upgrade-cwd-');
    await kit.spawnTree(join(root, 'bin', 'ollama'), ['serve', '--port', String(port)], {
      cwd,
      env: { ...process.env, MY_SETTING: 'after recover too' },
    });
    // Journal write 3: the first step of moves is done (1: stopping, 2: swapping).
    const r = await runCli(['apply', pkgs['0.6.0']!, '--install-dir', root, '--grace', '2s', '--json'], {
      env: { LLM_UPGRADE_TEST_CRASH_AT_STEP: '3' },
    });
    expect(r.signal).toBe('SIGKILL');
    expect(runningUnder(root)).toEqual([]);
    const st = await runCli(['status', '--install-dir', root, '--json']);
    expect(st.json.transaction).toMatchObject({
      kind: 'apply',
      state: 'swapping',
      from: '0.5.0',
      to: '0.6.0',
      ownerAlive: false,
      recoverWill: 'roll back',
    });
    expect(st.json.transaction.ran[0].argv.slice(1)).toEqual(['serve', '--port', String(port)]);
    const human = await runCli(['status', '--install-dir', root]);
    expect(human.stderr).toContain('run "llm-upgrade recover" to finish it');
    const rec = await runCli(['recover', '--install-dir', root, '--json']);
    for (const pid of runningUnder(root)) kit.track(pid);
    expect(rec.code, rec.stderr).toBe(0);
    expect(rec.json).toMatchObject({ action: 'rolled-back', restarted: 'recorded' });
    expect(await treeDigest(root, { skipState: true })).toBe(await treeDigest(trees['0.5.0']!.root));
    await waitFor(async () => (await versionAt(port)) === '0.5.0', { timeoutMs: 15_000, what: 'the old server, started again by recover' });
    const [now] = topLevelUnder(root);
    expect(readlinkSync(`/proc/${now}/cwd`)).toBe(cwd);
    expect(environ(now!)).toContain('MY_SETTING=after recover too');
    expect((await runCli(['status', '--install-dir', root, '--json'])).json.transaction).toBeNull();
  });

  it('SIGINT at random moments of an apply over a running server: all-old (exit 130) or all-new (exit 0), nothing frozen, a server runs after recover', async () => {
    const oldTree = await treeDigest(trees['0.5.0']!.root);
    const newTree = await treeDigest(trees['0.6.0']!.root);
    const outcomes: string[] = [];
    // Delays counted from the first event in the log (the CLI's signal handlers are in place).
    for (const frac of [0.05, 0.2, 0.35, 0.5, 0.65, 0.8].map((f) => f + (Math.random() - 0.5) * 0.1)) {
      const root = await installed();
      const port = await freePort();
      await kit.spawnTree(join(root, 'bin', 'ollama'), ['serve', '--port', String(port), '--engines', '1']);
      const delayMs = Math.max(0, Math.round(frac * 4000));
      const log = join(base, `sigint-${n}.log`);
      let child = 0;
      const run = runCli(
        ['apply', pkgs['0.6.0']!, '--install-dir', root, '--grace', '2s', '--timeout', '20s', '--json', '--log-file', log],
        { onSpawn: (pid) => (child = pid) },
      );
      await waitFor(() => existsSync(log) && statSync(log).size > 0, { timeoutMs: 20_000, intervalMs: 10, what: 'the first logged event' });
      await sleep(delayMs);
      try {
        if (child) process.kill(child, 'SIGINT');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e; // it finished first: an uninterrupted run
      }
      const r = await run;
      for (const pid of runningUnder(root)) kit.track(pid);
      expect([0, 130], `${delayMs} ms: ${r.stdout}${r.stderr}`).toContain(r.code);
      outcomes.push(`${delayMs}ms→${r.code}${r.json?.error ? `/${r.json.error.phase}` : ''}`);
      const frozen = runningUnder(root).filter((p) => readStat(p)?.state === 'T');
      expect(frozen, 'no process of the install left frozen').toEqual([]);
      const digest = await treeDigest(root, { skipState: true });
      if (r.code === 0) expect(digest).toBe(newTree);
      else expect(digest).toBe(oldTree);
      const rec = await runCli(['recover', '--install-dir', root, '--json']);
      expect(rec.code, rec.stderr).toBe(0);
      const version = r.code === 0 ? '0.6.0' : '0.5.0';
      expect(await treeDigest(root, { skipState: true })).toBe(digest);
      await waitFor(async () => (await versionAt(port)) === version, {
        timeoutMs: 15_000,
        what: `the ${version} server on port ${port} (${delayMs} ms)`,
      });
      for (const pid of runningUnder(root)) kit.track(pid);
    }
    console.log(`SIGINT outcomes: ${outcomes.join(', ')}`);
  }, 240_000);
});
