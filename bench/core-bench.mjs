#!/usr/bin/env node
// Core benchmarks (Linux), side by side on the same machine and the same trees:
//   1. process snapshot at ~1,000 processes: /proc direct vs ps-list
//   2. holder scan at ~500 processes: scanHolders vs `lsof +D` vs `fuser` per path, and which
//      holder kinds (exe, fd, map, deleted fd, deleted map, cwd) each one finds
//   3. kill of a ~200-process adversarial tree (TERM-ignoring engines, setsid orphans, crashed
//      frontend, churning fork storm): stop() vs tree-kill vs fkill, time and survivors
// Prints a markdown table and writes it to bench/results/core.md. Every process it starts is
// killed by pid (testkit cleanup) even on failure. Run: node bench/core-bench.mjs
import { execFile, spawnSync } from 'node:child_process';
import { mkdir, readdir, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { build } from 'esbuild';
import psList from 'ps-list';
import treeKill from 'tree-kill';
import fkill from 'fkill';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..');

/**
 * Bundles core and testkit from source (no build needed; other OS backends left out). With
 * srcRoot, the core of another checkout (e.g. the code before a change) and no testkit.
 */
export async function loadLibraries(dir, { srcRoot = repo, name = 'libs' } = {}) {
  const entry = join(dir, `${name}-entry.ts`);
  await writeFile(
    entry,
    [
      `export * from ${JSON.stringify(join(srcRoot, 'packages/core/src/index.ts'))};`,
      `export { LinuxBackend } from ${JSON.stringify(join(srcRoot, 'packages/core/src/platform/linux/index.ts'))};`,
      ...(srcRoot === repo ? [`export * as testkit from ${JSON.stringify(join(repo, 'packages/testkit/src/index.ts'))};`] : []),
    ].join('\n'),
  );
  const outfile = join(dir, `${name}.mjs`);
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    logLevel: 'silent',
    external: ['koffi', 'ps-list'],
    plugins: [
      {
        name: 'linux-only',
        setup(b) {
          b.onResolve({ filter: /^\.\/(win32|darwin)\.js$/ }, (a) => ({ path: a.path, external: true }));
        },
      },
    ],
  });
  return import(pathToFileURL(outfile).href);
}

const now = () => performance.now();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x) => `${x.toFixed(x < 10 ? 1 : 0)} ms`;
const ratio = (a, b) => `${(a / b).toFixed(1)}×`;

/** Times several contenders round-robin (so machine load hits them alike); median per contender. */
async function interleaved(runs, contenders) {
  const times = contenders.map(() => []);
  const last = [];
  for (let i = 0; i < runs; i++) {
    for (const [k, f] of contenders.entries()) {
      const t = now();
      last[k] = await f();
      times[k].push(now() - t);
    }
  }
  return contenders.map((_, k) => ({ ms: median(times[k]), last: last[k] }));
}

function run(cmd, args, opts = {}) {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, timeout: opts.timeoutMs ?? 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? err.code : 0, stdout, stderr }),
    );
  });
}

const hasTool = (t) => spawnSync('sh', ['-c', `command -v ${t}`]).status === 0;

export const liveCount = (lib) => lib.testkit.listPids().filter((p) => lib.testkit.isAlive(p)).length;

/** Starts storm trees (no churn) until about `target` live processes exist. */
export async function fillTo(kit, lib, install, target) {
  const started = [];
  for (;;) {
    const count = liveCount(lib);
    if (count >= target - 5) return started;
    const want = target - count;
    // storm 2 --width W: 1 + W + W^2 processes
    const width = Math.max(1, Math.min(12, Math.floor((Math.sqrt(4 * want - 3) - 1) / 2)));
    const tree = await kit.spawnTree(install.bin, ['storm', '2', '--width', String(width)]);
    started.push(tree.pid);
    const expected = count + 1 + width + width * width;
    await lib.testkit.waitFor(() => liveCount(lib) >= expected - 2, { timeoutMs: 10_000 }).catch(() => undefined);
  }
}

// ---- 1. snapshot ----------------------------------------------------------------------------
async function benchSnapshot(lib, kit, install, before) {
  const storms = await fillTo(kit, lib, install, 1000);
  const backend = new lib.LinuxBackend();
  const old = before ? new before.LinuxBackend() : null;
  await backend.snapshot(); // warm up (users, JIT)
  await old?.snapshot();
  await psList();
  const [ours, theirs, was] = await interleaved(11, [() => backend.snapshot(), () => psList(), ...(old ? [() => old.snapshot()] : [])]);
  return {
    storms,
    rows: [
      ['snapshot', `/proc direct (core)`, ms(ours.ms), `${ours.last.processes.length} processes, exe + start time + cmdline + user`],
      ['snapshot', 'ps-list 9', ms(theirs.ms), `${theirs.last.length} processes (spawns ps); ours is ${ratio(theirs.ms, ours.ms)} faster`],
      ...(was
        ? [
            [
              'snapshot',
              'core from BENCH_BEFORE_SRC',
              ms(was.ms),
              `${was.last.processes.length} processes; ps-list / this: ${ratio(theirs.ms, was.ms)}`,
            ],
          ]
        : []),
    ],
    ours: ours.ms,
    theirs: theirs.ms,
  };
}

// ---- 2. holders -----------------------------------------------------------------------------
const KINDS = ['exe', 'fd', 'map', 'deleted fd', 'deleted map', 'cwd'];

export async function makeHolders(lib, kit, install) {
  const data = join(install.root, 'data');
  await mkdir(data, { recursive: true });
  const f = (n) => join(data, n);
  for (const n of ['open.bin', 'mapped.bin', 'del-open.bin', 'del-mapped.bin']) await writeFile(f(n), Buffer.alloc(64 * 1024, 1));
  const outside = await kit.makeTempDir('llm-upgrade-bench-foreign-');
  const reader = await lib.testkit.compileFakeRunner({ version: install.version, outDir: outside, name: 'reader' });
  const expected = {
    exe: (await kit.spawnTree(install.bin, ['serve'])).pid,
    fd: (await kit.spawnTree(reader, ['engine', '--hold', f('open.bin')])).pid,
    map: (await kit.spawnTree(reader, ['engine', '--model', f('mapped.bin')])).pid,
    'deleted fd': (await kit.spawnTree(reader, ['engine', '--hold', f('del-open.bin')])).pid,
    'deleted map': (await kit.spawnTree(reader, ['engine', '--model', f('del-mapped.bin')])).pid,
    cwd: (await kit.spawnTree('/bin/sleep', ['600'], { cwd: data, waitReady: false })).pid,
  };
  await unlink(f('del-open.bin'));
  await unlink(f('del-mapped.bin'));
  return expected;
}

function kindsFound(found, expected) {
  return KINDS.filter((k) => found.some((h) => h.pid === expected[k] && h.kind === k));
}

async function walk(dir) {
  const out = [dir];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out;
}

/** lsof -F: p<pid>, f<fd: cwd|txt|mem|rtd|DEL|N...>, n<name>. */
function parseLsof(text) {
  const out = [];
  let pid = 0;
  let fd = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('p')) pid = Number(line.slice(1));
    else if (line.startsWith('f')) fd = line.slice(1);
    else if (line.startsWith('n')) {
      const deleted = line.includes('(deleted)') || fd === 'DEL';
      const kind = fd === 'cwd' ? 'cwd' : fd === 'txt' ? 'exe' : fd === 'mem' || fd === 'DEL' ? 'map' : /^\d/.test(fd) ? 'fd' : fd;
      out.push({ pid, kind: deleted && (kind === 'fd' || kind === 'map') ? `deleted ${kind}` : kind });
    }
  }
  return out;
}

/**
 * fuser -v prints the pids on stdout and the rest of each row ("USER ACCESS COMMAND") on
 * stderr, in the same order: zip them. Access letters: c=cwd e=exe f/F=open file m=mmap r=root.
 */
function parseFuser(stdout, stderr) {
  const pids = stdout.trim().split(/\s+/).filter(Boolean).map(Number);
  const access = [...stderr.matchAll(/\s([cefFrm.]{5})\s/g)].map((m) => m[1]);
  const out = [];
  pids.forEach((pid, i) => {
    const acc = access[i] ?? '';
    if (acc.includes('c')) out.push({ pid, kind: 'cwd' });
    if (acc.includes('e')) out.push({ pid, kind: 'exe' });
    if (acc.includes('f') || acc.includes('F')) out.push({ pid, kind: 'fd' });
    if (acc.includes('m')) out.push({ pid, kind: 'map' });
  });
  return out;
}

async function benchHolders(lib, kit, install, storms, before) {
  // Down to ~500 processes: end filler storms (by pid, with their trees) until we are there.
  for (const pid of storms) {
    if (liveCount(lib) <= 520) break;
    const tree = [pid, ...lib.testkit.descendantsOf([pid])];
    for (const p of tree)
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    await lib.testkit.waitFor(() => tree.every((p) => !lib.testkit.isAlive(p)), { timeoutMs: 5000 }).catch(() => undefined);
  }
  await fillTo(kit, lib, install, 500);
  const processes = liveCount(lib);
  const expected = await makeHolders(lib, kit, install);
  const paths = await walk(install.root);
  const fuserAll = async () => {
    const found = [];
    for (const p of paths) {
      const r = await run('fuser', ['-v', p]);
      found.push(...parseFuser(r.stdout, r.stderr));
    }
    return found;
  };
  const haveLsof = hasTool('lsof');
  const haveFuser = hasTool('fuser');
  const [ours, lsof, fuser, was] = await interleaved(Number(process.env.BENCH_HOLDER_ROUNDS ?? 5), [
    () => lib.scanHolders({ roots: [install.root] }),
    async () => (haveLsof ? parseLsof((await run('lsof', ['-n', '-w', '-F', 'pfn', '+D', install.root])).stdout) : []),
    async () => (haveFuser ? fuserAll() : []),
    ...(before ? [() => before.scanHolders({ roots: [install.root] })] : []),
  ]);
  const oursFound = ours.last.holders.map((h) => ({ pid: h.pid, kind: h.deleted ? `deleted ${h.kind}` : h.kind }));
  const kinds = (found) => kindsFound(found, expected);
  const list = (k) => `${k.join(', ') || 'none'} (${k.length}/6)`;
  const rows = [['holders', 'scanHolders (core)', ms(ours.ms), `${processes} processes; kinds found: ${list(kinds(oursFound))}`]];
  const result = { ours: ours.ms, oursKinds: kinds(oursFound).length };
  if (haveLsof) {
    rows.push(['holders', 'lsof +D', ms(lsof.ms), `kinds found: ${list(kinds(lsof.last))}; ours is ${ratio(lsof.ms, ours.ms)} faster`]);
    result.lsof = lsof.ms;
  } else rows.push(['holders', 'lsof +D', 'n/a', 'lsof not installed']);
  if (haveFuser) {
    rows.push([
      'holders',
      `fuser -v, once per path (${paths.length} files and dirs)`,
      ms(fuser.ms),
      `kinds found: ${list(kinds(fuser.last))}; ours is ${ratio(fuser.ms, ours.ms)} faster`,
    ]);
    result.fuser = fuser.ms;
  } else rows.push(['holders', 'fuser', 'n/a', 'fuser not installed']);
  if (was) {
    const wasKinds = kinds(was.last.holders.map((h) => ({ pid: h.pid, kind: h.deleted ? `deleted ${h.kind}` : h.kind })));
    rows.push([
      'holders',
      'scanHolders from BENCH_BEFORE_SRC',
      ms(was.ms),
      `kinds found: ${list(wasKinds)}${haveLsof ? `; lsof / this: ${ratio(lsof.ms, was.ms)}` : ''}`,
    ]);
  }
  return { rows, result };
}

// ---- 3. kill --------------------------------------------------------------------------------
/** ~200 processes: server + TERM-ignoring setsid engines, a crashed frontend's orphans, a churning storm, a wide storm. */
async function adversarialTree(kit, install) {
  const tops = [];
  tops.push(
    (await kit.spawnTree(install.bin, ['serve', '--engines', '4', '--orphan', '--', '--ignore-term', '--model', install.model])).pid,
  );
  const crashed = await kit.spawnTree(install.bin, ['serve', '--engines', '3', '--crash', '--', '--ignore-term']);
  tops.push(crashed.pid);
  tops.push((await kit.spawnTree(install.bin, ['storm', '4', '--width', '3', '--churn-ms', '30', '--ignore-term'])).pid);
  tops.push((await kit.spawnTree(install.bin, ['storm', '3', '--width', '4', '--ignore-term'])).pid);
  return tops;
}

const liveUnder = (lib, root) =>
  lib.testkit.listPids().filter((pid) => {
    const exe = lib.testkit.readProcLink(pid, 'exe');
    return exe !== null && lib.isUnderRoot(exe, root) && lib.testkit.isAlive(pid);
  });

async function settle(lib, root) {
  await new Promise((r) => setTimeout(r, 300));
  return liveUnder(lib, root).length;
}

async function benchKill(lib, kit) {
  const rows = [];
  const out = {};
  /** @type {Record<string, (install: any, tops: number[]) => Promise<{ ok?: boolean, killPhaseMs?: number } | void>>} */
  const contenders = {
    'stop() (core: freeze, rescan, SIGKILL, then verify holders)': async (install) => {
      // The kill phase: from the first SIGSTOP to the last exit seen before holder verification.
      let firstFreeze = 0;
      let lastExit = 0;
      let verifying = false;
      const onEvent = (e) => {
        if (e.type === 'freeze' && !firstFreeze) firstFreeze = now();
        if (e.type === 'exited' && !verifying) lastExit = now();
        if (e.type === 'holders') verifying = true;
      };
      const r = await lib.stop({ roots: [install.root], graceMs: 0, timeoutMs: 20_000, skipServices: true, onEvent });
      return { ok: r.ok, killPhaseMs: firstFreeze && lastExit ? lastExit - firstFreeze : NaN };
    },
    'tree-kill 1.2 (SIGKILL, per known top pid)': async (_install, tops) => {
      await Promise.all(tops.map((pid) => new Promise((resolve) => treeKill(pid, 'SIGKILL', () => resolve()))));
    },
    'fkill 10 (force, known top pids)': async (_install, tops) => {
      await fkill(tops, { force: true, silent: true });
    },
  };
  const ROUNDS = 3;
  const runs = Object.fromEntries(Object.keys(contenders).map((n) => [n, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, kill] of Object.entries(contenders)) {
      const install = await kit.makeSampleInstall({ version: '0.0.1' });
      const tops = await adversarialTree(kit, install);
      await lib.testkit.waitFor(() => liveUnder(lib, install.root).length >= 190, { timeoutMs: 5_000 }).catch(() => undefined);
      const before = liveUnder(lib, install.root).length;
      const t = now();
      const r = await kill(install, tops);
      const elapsed = now() - t;
      const survivors = await settle(lib, install.root);
      const report = r || undefined;
      runs[name].push({ elapsed, survivors, before, ok: report?.ok, killPhaseMs: report?.killPhaseMs });
      await kit.cleanup();
    }
  }
  for (const [name, list] of Object.entries(runs)) {
    const t = median(list.map((x) => x.elapsed));
    const surv = list.map((x) => x.survivors);
    const before = list.map((x) => x.before);
    const ok =
      list[0]?.ok !== undefined
        ? `; ok=${list.map((x) => x.ok).join('/')}; kill phase (first SIGSTOP → last exit) ${ms(median(list.map((x) => x.killPhaseMs)))}`
        : '';
    rows.push([
      'kill',
      name,
      ms(t),
      `trees of ${Math.min(...before)}–${Math.max(...before)} processes, ${ROUNDS} rounds; survivors after 300 ms: ${surv.join(', ')}${ok}`,
    ]);
    out[name] = { ms: t, survivors: Math.max(...surv) };
  }
  const stopName = Object.keys(contenders)[0];
  const treeKillName = Object.keys(contenders)[1];
  rows.push(['kill', 'ratio', '', `stop() is ${ratio(out[treeKillName].ms, out[stopName].ms)} faster than tree-kill`]);
  return { rows, out };
}

export default async function coreBench() {
  if (process.platform !== 'linux') return '(core bench runs on Linux only)\n';
  const work = mkdtempSync(join(tmpdir(), 'llm-upgrade-bench-'));
  process.env.LLM_UPGRADE_FAKE_RUNNER_C ??= join(repo, 'packages/testkit/fake-runner.c');
  const lib = await loadLibraries(work);
  // BENCH_BEFORE_SRC=DIR (a checkout, e.g. `git archive main packages/core | tar -x -C DIR`):
  // its core's snapshot and holder scan run in the same rounds, for a before/after comparison.
  const beforeSrc = process.env.BENCH_BEFORE_SRC;
  const before = beforeSrc ? await loadLibraries(work, { srcRoot: resolve(beforeSrc), name: 'before' }) : null;
  const kit = new lib.testkit.TestKit();
  const started = now();
  const rows = [];
  try {
    const install = await kit.makeSampleInstall({ version: '0.0.1' });
    const snap = await benchSnapshot(lib, kit, install, before);
    rows.push(...snap.rows);
    const holders = await benchHolders(lib, kit, install, snap.storms, before);
    rows.push(...holders.rows);
    await kit.cleanup();
    const kill = await benchKill(lib, kit);
    rows.push(...kill.rows);
  } finally {
    await kit.cleanup();
    rmSync(work, { recursive: true, force: true });
  }
  const cpu = (await run('nproc', [])).stdout.trim();
  const md = [
    `### Core (Linux, ${cpu} CPUs, Node ${process.version}, ${new Date().toISOString().slice(0, 10)})`,
    '',
    '| bench | tool | time (median) | result |',
    '| --- | --- | ---: | --- |',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    `Total bench time: ${((now() - started) / 1000).toFixed(1)} s.`,
    '',
  ].join('\n');
  await mkdir(join(here, 'results'), { recursive: true });
  await writeFile(join(here, 'results', 'core.md'), md);
  return md;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  coreBench().then(
    (md) => process.stdout.write(md),
    (e) => {
      process.stderr.write(`core bench failed: ${e?.stack ?? e}\n`);
      process.exit(1);
    },
  );
}
