import { execFileSync, spawn } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestKit } from '@llm-upgrade/testkit';
import { CLI, ensureBuilt, makeProductDir, runCli, sleep, treeDigest } from './helpers.js';

// kill -9 the upgrader after every journal write and at random moments; `recover` must leave
// the install exactly all-old or all-new (a full tree hash), and agree with installed.json.
const kit = new TestKit();
let base: string;
let v1Pkg: string;
let v2Pkg: string;
let oldDigest: string;
let newDigest: string;
let template: string;
let totalSteps = 0;
let commitStep = 0;
let trial = 0;

beforeAll(async () => {
  ensureBuilt();
  base = await kit.makeTempDir('llm-upgrade-crash-');
  // v2 adds, removes and replaces files, and turns a directory into a file and back.
  const v1 = await makeProductDir(join(base, 'v1'), '1.0.0', { 'lib/gone-in-2.so': 'old only', 'share/x/y.txt': 'dir in 1' });
  const v2 = await makeProductDir(join(base, 'v2'), '2.0.0', { 'lib/new-in-2.so': 'new only', 'share/x': 'file in 2' });
  v1Pkg = join(base, 'v1.tar.gz');
  v2Pkg = join(base, 'v2.tar.gz');
  for (const [dir, v, out] of [
    [v1, '1.0.0', v1Pkg],
    [v2, '2.0.0', v2Pkg],
  ] as const) {
    expect((await runCli(['pack', dir, '--name', 'tool', '--version', v, '--smoke', 'bin/tool --version', '--out', out])).code).toBe(0);
  }
  oldDigest = await treeDigest(v1);
  newDigest = await treeDigest(v2);
  template = join(base, 'template');
  expect((await runCli(['apply', v1Pkg, '--install-dir', template])).code).toBe(0);
  // A clean run tells how many journal writes an upgrade makes and which one commits.
  const probe = freshRoot();
  const logFile = join(base, 'probe.log');
  const r = await runCli(['apply', v2Pkg, '--install-dir', probe, '--json', '--log-file', logFile]);
  expect(r.code, r.stderr).toBe(0);
  totalSteps = r.json.journalSteps;
  const events = (await readFile(logFile, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; state?: string; seq?: number });
  commitStep = events.find((e) => e.type === 'journal' && e.state === 'committed')!.seq!;
  expect(totalSteps).toBeGreaterThanOrEqual(8);
  expect(commitStep).toBe(totalSteps);
}, 120_000);

afterAll(async () => {
  await kit.cleanup();
});

function freshRoot(): string {
  const root = join(base, `trial-${++trial}`);
  execFileSync('cp', ['-a', template, root]);
  return root;
}

async function expectConsistent(root: string): Promise<'old' | 'new'> {
  const digest = await treeDigest(root, { skipState: true });
  const which = digest === oldDigest ? 'old' : digest === newDigest ? 'new' : 'mixed';
  expect(which, digest).not.toBe('mixed');
  const installed = JSON.parse(await readFile(join(root, '.llm-upgrade', 'installed.json'), 'utf8')) as { version: string };
  expect(installed.version).toBe(which === 'old' ? '1.0.0' : '2.0.0');
  const state = await readdir(join(root, '.llm-upgrade'));
  expect(state).not.toContain('journal.json');
  expect(state).not.toContain('staging');
  expect(state).not.toContain('swap-backup');
  expect(state).not.toContain('lock');
  return which as 'old' | 'new';
}

describe('crash at every journal step', () => {
  it('recovers to all-old before the commit and all-new from it on', async () => {
    for (let step = 1; step <= totalSteps; step++) {
      const root = freshRoot();
      const crashed = await runCli(['apply', v2Pkg, '--install-dir', root, '--json'], {
        env: { LLM_UPGRADE_TEST_CRASH_AT_STEP: String(step) },
      });
      expect(crashed.signal, `step ${step} of ${totalSteps}: ${crashed.code} ${crashed.stdout} ${crashed.stderr}`).toBe('SIGKILL');
      expect(existsSync(join(root, '.llm-upgrade', 'journal.json'))).toBe(true);
      const rec = await runCli(['recover', '--install-dir', root, '--json']);
      expect(rec.code, rec.stdout + rec.stderr).toBe(0);
      expect(rec.json.action).toBe(step >= commitStep ? 'committed' : 'rolled-back');
      expect(await expectConsistent(root)).toBe(step >= commitStep ? 'new' : 'old');
      // Idempotent: a second recover finds nothing to do and changes nothing.
      const again = await runCli(['recover', '--install-dir', root, '--json']);
      expect(again.json?.action, `step ${step}: ${again.stdout} ${again.stderr}`).toBe('nothing');
      expect(await expectConsistent(root)).toBe(step >= commitStep ? 'new' : 'old');
    }
  });

  it('survives recover itself being killed mid-rollback', async () => {
    for (const step of [3, Math.floor((totalSteps + 3) / 2), totalSteps - 1]) {
      const root = freshRoot();
      expect(
        (await runCli(['apply', v2Pkg, '--install-dir', root], { env: { LLM_UPGRADE_TEST_CRASH_AT_STEP: String(step) } })).signal,
      ).toBe('SIGKILL');
      // The undo writes nothing before it moves (a full disk must not stop it): die after its first undone move.
      const killed = await runCli(['recover', '--install-dir', root], { env: { LLM_UPGRADE_TEST_CRASH_IN_UNDO_AFTER: '1' } });
      expect(killed.signal).toBe('SIGKILL');
      const rec = await runCli(['recover', '--install-dir', root, '--json']);
      expect(rec.code, rec.stderr).toBe(0);
      expect(await expectConsistent(root)).toBe('old');
      // After recovery the upgrade goes through normally.
      const r = await runCli(['apply', v2Pkg, '--install-dir', root, '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect(await expectConsistent(root)).toBe('new');
    }
  });

  it('the next apply recovers by itself and then upgrades', async () => {
    const root = freshRoot();
    expect((await runCli(['apply', v2Pkg, '--install-dir', root], { env: { LLM_UPGRADE_TEST_CRASH_AT_STEP: '5' } })).signal).toBe(
      'SIGKILL',
    );
    const r = await runCli(['apply', v2Pkg, '--install-dir', root, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ recovered: 'rolled-back', from: '1.0.0', to: '2.0.0' });
    expect(await expectConsistent(root)).toBe('new');
  });
});

describe('crash at random moments', () => {
  it('30 kill -9 at random times during apply (half of them inside the stop/swap window): always all-old or all-new after recover', async () => {
    // Time a clean run to spread the kills over its whole length.
    const t0 = Date.now();
    expect((await runCli(['apply', v2Pkg, '--install-dir', freshRoot()])).code).toBe(0);
    const span = Date.now() - t0;
    const seen = { old: 0, new: 0 };
    const at: Record<string, number> = {};
    for (let i = 0; i < 30; i++) {
      const root = freshRoot();
      const child = spawn(process.execPath, [CLI, 'apply', v2Pkg, '--install-dir', root, '--quiet'], { stdio: 'ignore' });
      const exited = new Promise((r) => child.on('exit', r));
      if (i % 2 === 0) {
        await sleep(Math.random() * span * 1.1);
      } else {
        // Half the trials aim at the short stop/swap/commit window: wait for the journal to appear.
        const journal = join(root, '.llm-upgrade', 'journal.json');
        const deadline = Date.now() + span * 3;
        while (!existsSync(journal) && Date.now() < deadline) await sleep(1);
        await sleep(Math.random() * 150);
      }
      child.kill('SIGKILL');
      await exited;
      const j = await readFile(join(root, '.llm-upgrade', 'journal.json'), 'utf8').catch(() => null);
      const state = j ? (JSON.parse(j) as { state: string; done: number }) : null;
      const where = state ? `${state.state}${state.state === 'swapping' ? `:${state.done}` : ''}` : 'no journal';
      at[where] = (at[where] ?? 0) + 1;
      const rec = await runCli(['recover', '--install-dir', root, '--json']);
      expect(rec.code, rec.stderr).toBe(0);
      seen[await expectConsistent(root)]++;
    }
    // Print the spread so a run that never hit the middle is visible in the log.
    console.log(
      `random kills: ${seen.old} ended all-old, ${seen.new} all-new (clean run ${span} ms); journal state at the kill: ${JSON.stringify(at)}`,
    );
    expect(seen.old + seen.new).toBe(30);
  }, 180_000);
});
