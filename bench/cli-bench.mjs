#!/usr/bin/env node
// Whole-process bench (Linux): `llm-upgrade holders --install-dir D` the way a user runs it,
// against `lsof +D D`, with ~500 processes on the machine and one holder of each kind under D.
//   - the npm bin (packages/upgrader/bin/llm-upgrade.js, run through its shebang)
//   - the compiled upgrader (the Linux single executable, out/sea/llm-upgrade-linux-x64)
//   - lsof +D D
//   - bare startup of the two Nodes (`node -e 0`, the SEA's Node 22 `-e 0`): the floor of each path
// Every contender runs once per round, round-robin (so machine load hits them alike), 21
// rounds; medians. Writes bench/results/cli.md. Optional: BENCH_BIN_BEFORE=path and
// BENCH_SEA_BEFORE=path add rows for other builds of the npm bin and of the executable (e.g. from
// before a change), in the same rounds.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { fillTo, liveCount, loadLibraries, makeHolders } from './core-bench.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..');
const ROUNDS = Number(process.env.BENCH_CLI_ROUNDS ?? 21);
const BIN = join(repo, 'packages/upgrader/bin/llm-upgrade.js');

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => `${x.toFixed(x < 10 ? 1 : 0)} ms`;

/** Builds (or reuses, when unchanged) the Linux single executable; returns it and its Node. */
async function linuxSea() {
  const { buildSea, defaultCacheDir } = await import(pathToFileURL(join(repo, 'tools/lib/sea/build.mjs')).href);
  const { fetchPinned } = await import(pathToFileURL(join(repo, 'tools/lib/sea/fetch.mjs')).href);
  const r = await buildSea({ repoRoot: repo, targets: ['linux-x64'], log: (m) => process.stderr.write(`[build-sea] ${m}\n`) });
  return { sea: r.results[0].file, node22: await fetchPinned('linux-x64', defaultCacheDir(repo)) };
}

/** One run of a whole process, stdout/stderr to pipes as a script would read them. */
function timed(cmd, args, okCodes = [0]) {
  const t = performance.now();
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  const elapsed = performance.now() - t;
  if (!okCodes.includes(r.status)) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}\n${r.stdout.slice(0, 2000)}`);
  return { elapsed, stdout: r.stdout };
}

export default async function cliBench() {
  if (process.platform !== 'linux') return '(cli bench runs on Linux only)\n';
  const { sea, node22 } = await linuxSea();
  const work = mkdtempSync(join(tmpdir(), 'llm-upgrade-bench-'));
  process.env.LLM_UPGRADE_FAKE_RUNNER_C ??= join(repo, 'packages/testkit/fake-runner.c');
  const lib = await loadLibraries(work);
  const kit = new lib.testkit.TestKit();
  const started = performance.now();
  let md;
  try {
    // The filler processes run from another install: D is held by one process of each kind.
    const install = await kit.makeSampleInstall({ version: '0.0.1' });
    const filler = await kit.makeSampleInstall({ version: '0.0.2' });
    await fillTo(kit, lib, filler, 500);
    await makeHolders(lib, kit, install);
    const processes = liveCount(lib);
    const D = install.root;
    const contenders = [
      ['`llm-upgrade holders --install-dir D` (npm bin)', BIN, ['holders', '--install-dir', D]],
      ...(process.env.BENCH_BIN_BEFORE && existsSync(process.env.BENCH_BIN_BEFORE)
        ? [['same, the npm bin given in BENCH_BIN_BEFORE', process.env.BENCH_BIN_BEFORE, ['holders', '--install-dir', D]]]
        : []),
      ['`llm-upgrade holders --install-dir D` (compiled, Linux SEA)', sea, ['holders', '--install-dir', D]],
      ...(process.env.BENCH_SEA_BEFORE && existsSync(process.env.BENCH_SEA_BEFORE)
        ? [['same, the SEA given in BENCH_SEA_BEFORE', process.env.BENCH_SEA_BEFORE, ['holders', '--install-dir', D]]]
        : []),
      // lsof exits 1 when a process went away while it read it (the machine is shared).
      ['`lsof +D D`', 'lsof', ['+D', D], [0, 1]],
      [`\`node -e 0\` (Node ${process.version}, the npm bin's floor)`, process.execPath, ['-e', '0']],
      ["`node -e 0` of the SEA's Node 22 (the SEA's floor)", node22, ['-e', '0']],
    ];
    const times = contenders.map(() => []);
    const outputs = [];
    for (const [k, [, cmd, args, codes]] of contenders.entries()) outputs[k] = timed(cmd, args, codes).stdout; // warm the page cache
    for (let i = 0; i < ROUNDS; i++)
      for (const [k, [, cmd, args, codes]] of contenders.entries()) times[k].push(timed(cmd, args, codes).elapsed);
    const lsofAt = contenders.findIndex(([, cmd]) => cmd === 'lsof');
    const lsofMs = median(times[lsofAt]);
    const rows = contenders.map(([name], k) => {
      const t = median(times[k]);
      const lines = outputs[k].split('\n').filter(Boolean).length;
      const note =
        k === lsofAt ? `${lines} lines` : name.includes('holders') ? `${lines} holder lines; ${(lsofMs / t).toFixed(2)}× lsof's speed` : '';
      return `| ${name} | ${ms(t)} | ${ms(Math.min(...times[k]))} | ${note} |`;
    });
    md = [
      `### Whole process: holders (Linux, ${processes} processes, ${ROUNDS} rounds round-robin, ${new Date().toISOString().slice(0, 10)})`,
      '',
      '| command | median | best | result |',
      '| --- | ---: | ---: | --- |',
      ...rows,
      '',
      `Total bench time: ${((performance.now() - started) / 1000).toFixed(1)} s.`,
      '',
    ].join('\n');
  } finally {
    await kit.cleanup();
    rmSync(work, { recursive: true, force: true });
  }
  await mkdir(join(here, 'results'), { recursive: true });
  await writeFile(join(here, 'results', 'cli.md'), md);
  return md;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  cliBench().then(
    (md) => process.stdout.write(md),
    (e) => {
      process.stderr.write(`cli bench failed: ${e?.stack ?? e}\n`);
      process.exit(1);
    },
  );
}
