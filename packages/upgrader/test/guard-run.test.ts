import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStat, TestKit, type SampleInstall } from '@llm-upgrade/testkit';
import { ensureBuilt } from './helpers.js';
import { allGone, isGone, readReadyFile, startCli } from './guard-helpers.js';

// `llm-upgrade run -- FRONTEND`: the frontend (a shell script) starts two fake servers, one with
// an engine that ignores SIGTERM, one whose engine double-forks and calls setsid (it leaves the
// frontend's tree at once). Whatever ends the frontend or the wrapper, nothing may survive.
const kit = new TestKit();
let inst: SampleInstall;
let n = 0;

beforeAll(async () => {
  ensureBuilt();
  inst = await kit.makeSampleInstall({ version: '0.9.0' });
});
afterAll(() => kit.cleanup());

async function frontend(): Promise<{ script: string; dir: string }> {
  const dir = await kit.makeTempDir(`llm-upgrade-run-${++n}-`);
  const script = join(dir, 'frontend.sh');
  await writeFile(
    script,
    `#!/bin/sh
echo $$ > "${dir}/frontend.pid"
"${inst.bin}" serve --port 0 --engines 1 --ready-file "${dir}/a" -- --ignore-term --model "${inst.model}" &
"${inst.bin}" serve --port 0 --engines 1 --orphan --ready-file "${dir}/b" -- --model "${inst.model}" &
wait
`,
  );
  await chmod(script, 0o755);
  return { script, dir };
}

async function started(dir: string, wrapper: number): Promise<{ frontend: number; all: number[] }> {
  const a = await readReadyFile(join(dir, 'a'));
  const b = await readReadyFile(join(dir, 'b'));
  const fe = Number((await readFile(join(dir, 'frontend.pid'), 'utf8')).trim());
  const all = [fe, a.pid, ...a.engines, b.pid, ...b.engines];
  for (const pid of all) kit.track(pid);
  expect(all.filter(isGone)).toEqual([]);
  // The double-forked, setsid'd engine left its server's tree: the subreaper (run) adopted it.
  expect(readStat(b.engines[0]!)?.ppid).toBe(wrapper);
  return { frontend: fe, all };
}

describe('llm-upgrade run', () => {
  it('frontend SIGKILLed: everything it started is gone within 1.5 s, and run exits 137', async () => {
    const { script, dir } = await frontend();
    const run = startCli(['run', '--grace', '500ms', '--', script]);
    kit.track(run.pid);
    const { frontend: fe, all } = await started(dir, run.pid);
    const t0 = Date.now();
    process.kill(fe, 'SIGKILL');
    const ms = await allGone(all, t0, 5_000);
    expect(ms).toBeLessThanOrEqual(1_500);
    const exit = await run.exit;
    expect(exit.code, run.stderr()).toBe(137);
  });

  it('wrapper SIGKILLed: the frontend (pdeathsig) and every descendant (watchdog) are gone', async () => {
    const { script, dir } = await frontend();
    const run = startCli(['run', '--grace', '500ms', '--', script]);
    kit.track(run.pid);
    const { all } = await started(dir, run.pid);
    // The wrapper re-reads its descendants every 250 ms and hands their identities to the watchdog.
    await new Promise((r) => setTimeout(r, 600));
    const t0 = Date.now();
    process.kill(run.pid, 'SIGKILL');
    const ms = await allGone(all, t0, 5_000);
    expect(ms).toBeLessThanOrEqual(3_000);
  });

  it('SIGTERM to the wrapper is forwarded: everything is gone within grace + 1 s, and run exits 143', async () => {
    const { script, dir } = await frontend();
    const run = startCli(['run', '--grace', '1s', '--', script]);
    kit.track(run.pid);
    const { all } = await started(dir, run.pid);
    const t0 = Date.now();
    process.kill(run.pid, 'SIGTERM');
    const ms = await allGone(all, t0, 5_000);
    expect(ms).toBeLessThanOrEqual(2_000);
    const exit = await run.exit;
    expect(exit.code, run.stderr()).toBe(143);
    expect(run.stderr()).toContain('SIGTERM forwarded');
  });

  it('a command that is not there is bad input (exit 2) and starts nothing', async () => {
    const run = startCli(['run', '--', '/nonexistent/llm-upgrade-cmd']);
    const exit = await run.exit;
    expect(exit.code).toBe(2);
    expect(run.stderr()).toContain('ERR_USAGE');
  });

  it("exits with the command's own status", async () => {
    const run = startCli(['run', '--', 'sh', '-c', 'exit 7']);
    expect((await run.exit).code).toBe(7);
  });
});
