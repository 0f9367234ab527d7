// Issue 15 item 1: the dry run prints the plan the run executes. `apply --dry-run` shows an
// ApplyPlan (moves, processes, space); the real apply journals exactly those moves and stops
// exactly those processes. Checked for our own package format (with a user's files inside and
// beside the package) and for Ollama's install.sh layout from its release archives (two roots).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  isAlive,
  layOutOllamaInstall,
  makeOllamaRelease,
  TestKit,
  versionAt,
  waitFor,
  type OllamaRelease,
} from '@llm-upgrade/testkit';
import { ensureBuilt, makeProductDir, runCli } from './helpers.js';

const kit = new TestKit();
let base: string;

beforeAll(async () => {
  ensureBuilt();
  base = await kit.makeTempDir('llm-upgrade-plan-');
}, 60_000);

afterAll(async () => {
  await kit.cleanup();
});

interface Move {
  op: string;
  path: string;
}
const movesOf = (ops: Move[]) => ops.map((m) => `${m.op} ${m.path}`);

/** The moves the real run journaled, from its --log-file (the journal event that carries them). */
async function journaledMoves(logFile: string): Promise<string[]> {
  const events = (await readFile(logFile, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; ops?: Move[] });
  const withOps = events.filter((e) => e.type === 'journal' && e.ops);
  expect(withOps, 'exactly one journal write names the moves').toHaveLength(1);
  return movesOf(withOps[0]!.ops!);
}

async function pack(version: string, extra: Record<string, string>): Promise<string> {
  const dir = await makeProductDir(join(base, `src-${version}`), version, extra);
  const out = join(base, `tool-${version}.tar.gz`);
  const r = await runCli(['pack', dir, '--name', 'tool', '--version', version, '--out', out, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return out;
}

describe('apply: the dry run is the plan the run executes', () => {
  it('our package: moves with a user file inside a package directory (carried) and one beside it (untouched)', async () => {
    const v1 = await pack('1.0.0', { 'share/old.txt': 'only in 1\n' });
    const v2 = await pack('2.0.0', { 'lib/only-in-2.so': 'new in 2\n' });
    const root = join(base, 'install');
    expect((await runCli(['apply', v1, '--install-dir', root])).code).toBe(0);
    await writeFile(join(root, 'lib', 'user.conf'), 'mine\n');
    await mkdir(join(root, 'models'));
    await writeFile(join(root, 'models', 'm.gguf'), 'weights\n');

    const dry = await runCli(['apply', v2, '--install-dir', root, '--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    const plan = dry.json.plan;
    expect(plan).toMatchObject({ from: '1.0.0', to: '2.0.0', dryRun: true, pointOfNoReturn: { step: 'swap' } });
    const planned = movesOf(plan.moves);
    // The user's lib/user.conf goes along with the new lib/; models/ is not the package's and is not moved.
    expect(planned).toContain('carry lib/user.conf');
    expect(planned).toContain('backup share');
    expect(planned.some((m) => m.includes('models'))).toBe(false);
    expect(plan.pointOfNoReturn.move).toEqual(plan.moves[0]);
    expect(plan.space.transactionBytes).toBeGreaterThan(0);

    // The human dry run lists the same moves, in order.
    const text = await runCli(['apply', v2, '--install-dir', root, '--dry-run']);
    expect(text.code, text.stderr).toBe(0);
    const listed = text.stdout
      .split('\n')
      .filter((l) => /^ {4}\S+ \S/.test(l))
      .map((l) => l.trim());
    expect(listed).toEqual(planned);

    const log = join(base, 'apply.log');
    const run = await runCli(['apply', v2, '--install-dir', root, '--json', '--log-file', log]);
    expect(run.code, run.stderr).toBe(0);
    expect(await journaledMoves(log)).toEqual(planned);
    expect(await readFile(join(root, 'lib', 'user.conf'), 'utf8')).toBe('mine\n');
    expect(await readFile(join(root, 'models', 'm.gguf'), 'utf8')).toBe('weights\n');
  }, 120_000);

  describe('Ollama layout from release archives, running', () => {
    let v1: OllamaRelease;
    let v2: OllamaRelease;
    beforeAll(async () => {
      v1 = await makeOllamaRelease(kit, { version: '0.5.1' });
      v2 = await makeOllamaRelease(kit, { version: '0.6.0' });
    }, 120_000);

    it('the processes it would stop are the ones stopped; the moves are the ones journaled', async () => {
      const inst = await layOutOllamaInstall(kit, v1, { addOns: [v1.rocm] });
      const port = await freePort();
      const so = join(inst.lib, 'libggml-base.so');
      const server = await kit.spawnTree(inst.bin, ['serve', '--engines', '2', '--', '--model', so], {
        env: { ...process.env, OLLAMA_HOST: `127.0.0.1:${port}` },
      });
      expect(await versionAt(port)).toBe('0.5.1');
      const cli = (args: string[]) =>
        runCli([...args, '--profile', 'ollama', '--json', '--timeout', '60s'], {
          env: { PATH: `${inst.binDir}:${process.env.PATH}` },
          timeoutMs: 150_000,
        });
      const args = ['apply', v2.base, v2.rocm, '--checksums', v2.sha256sums, '--no-restart'];

      const dry = await cli([...args, '--dry-run']);
      expect(dry.code, dry.stderr).toBe(0);
      const plan = dry.json.plan;
      expect(plan).toMatchObject({ from: '0.5.1', to: '0.6.0', roots: [inst.bin, inst.lib] });
      const wouldStop = plan.processes.map((p: { pid: number }) => p.pid).sort();
      expect(wouldStop).toEqual([server.pid, ...server.ready!.engines].sort());
      expect(await versionAt(port), 'the dry run stopped nothing').toBe('0.5.1');

      const log = join(base, 'ollama.log');
      const run = await cli([...args, '--log-file', log]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.json.stopped.map((p: { pid: number }) => p.pid).sort()).toEqual(wouldStop);
      expect(await journaledMoves(log)).toEqual(movesOf(plan.moves));
      await waitFor(() => !isAlive(server.pid), { what: 'the old server gone' });
    }, 180_000);
  });
});
