#!/usr/bin/env node
// `watch` benchmarks (Linux), on the built CLI (packages/upgrader/dist):
//   1. orphan-to-gone latency: a server of the install is SIGKILLed, how long until its engine
//      is gone (every thread a zombie or no /proc entry: PID 1 here never reaps) — `watch`
//      (pidfd events) vs a cron-style `sweep` every 5 s vs doing nothing; p50/p95 over 20 kills
//   2. idle cost of `watch` over 60 s with ~1,000 other processes on the machine: CPU (utime +
//      stime from /proc/PID/stat) and RSS
// Prints a markdown table and writes bench/results/watch.md. Every process it starts is killed
// by pid (testkit cleanup), also on failure. Run: node bench/watch-bench.mjs
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..');
const CLI = join(repo, 'packages/upgrader/dist/cli/main.js');
const GRACE_MS = 2_000;
const KILLS = 20;
const IDLE_S = Number(process.env.WATCH_BENCH_IDLE_S ?? 60);

async function loadTestkit(dir) {
  const outfile = join(dir, 'testkit.mjs');
  await build({
    entryPoints: [join(repo, 'packages/testkit/src/index.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    logLevel: 'silent',
  });
  return import(pathToFileURL(outfile).href);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

function isGone(pid) {
  let tasks;
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return true;
  }
  return tasks.every((t) => {
    try {
      const s = readFileSync(`/proc/${pid}/task/${t}/stat`, 'latin1');
      const st = s.charAt(s.lastIndexOf(')') + 2);
      return st === 'Z' || st === 'X';
    } catch {
      return true;
    }
  });
}

/** Resolves with ms from t0 until pid is gone, or null after limitMs. */
async function goneAfter(pid, t0, limitMs) {
  while (performance.now() - t0 < limitMs) {
    if (isGone(pid)) return performance.now() - t0;
    await sleep(5);
  }
  return null;
}

function startCli(args, kit) {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (err += d));
  kit.track(child.pid);
  const exit = new Promise((r) => child.on('close', (code) => r(code)));
  return { child, pid: child.pid, exit, stderr: () => err };
}

/** Servers with one engine each; returns [{ server, engine }]. */
async function servers(kit, install, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const t = await kit.spawnTree(install.bin, ['serve', '--engines', '1', '--', '--model', install.model]);
    out.push({ server: t.pid, engine: t.ready.engines[0] });
  }
  return out;
}

/** Kills the servers one by one `gapMs` apart and measures each engine's orphan-to-gone time. */
async function killAll(pairs, gapMs, limitMs) {
  const waits = [];
  for (const { server, engine } of pairs) {
    const t0 = performance.now();
    process.kill(server, 'SIGKILL');
    waits.push(goneAfter(engine, t0, limitMs));
    await sleep(gapMs);
  }
  return Promise.all(waits);
}

function summarise(label, results) {
  const done = results.filter((x) => x !== null);
  const left = results.length - done.length;
  if (done.length === 0) return [label, '—', '—', `${left}/${results.length} engines still running after the limit`];
  return [
    label,
    `${Math.round(pct(done, 50))} ms`,
    `${Math.round(pct(done, 95))} ms`,
    left ? `${left}/${results.length} still running` : `${done.length}/${results.length} gone`,
  ];
}

function cpuTicks(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, 'latin1');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime
}
const rssKiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);

/** Storm trees of a runner outside the install until about `target` processes exist. */
async function fillTo(kit, tk, exe, target) {
  for (;;) {
    const count = tk.listPids().length;
    if (count >= target - 5) return;
    const want = target - count;
    const width = Math.max(1, Math.min(12, Math.floor((Math.sqrt(4 * want - 3) - 1) / 2)));
    await kit.spawnTree(exe, ['storm', '2', '--width', String(width)]);
    await tk.waitFor(() => tk.listPids().length >= count + width * width, { timeoutMs: 10_000 }).catch(() => undefined);
  }
}

export default async function watchBench() {
  if (process.platform !== 'linux') return '(watch bench runs on Linux only)\n';
  const work = mkdtempSync(join(tmpdir(), 'llm-upgrade-watch-bench-'));
  process.env.LLM_UPGRADE_FAKE_RUNNER_C ??= join(repo, 'packages/testkit/fake-runner.c');
  const tk = await loadTestkit(work);
  const kit = new tk.TestKit();
  const rows = [];
  const started = performance.now();
  try {
    const install = await kit.makeSampleInstall({ version: '0.0.2' });

    // watch
    const watch = startCli(['watch', '--install-dir', install.root, '--grace', `${GRACE_MS}ms`], kit);
    await tk.waitFor(() => watch.stderr().includes('watching'), { timeoutMs: 30_000 });
    let pairs = await servers(kit, install, KILLS);
    await sleep(2_500); // one rescan: every server discovered and watched
    rows.push(summarise('`watch` (pidfd events)', await killAll(pairs, 300, 10_000)));

    // cron-style sweep every 5 s
    watch.child.kill('SIGTERM');
    await watch.exit;
    pairs = await servers(kit, install, KILLS);
    let cron = true;
    const cronLoop = (async () => {
      while (cron) {
        const tick = performance.now();
        await startCli(['sweep', '--install-dir', install.root, '--grace', `${GRACE_MS}ms`, '--quiet'], kit).exit;
        await sleep(Math.max(0, 5_000 - (performance.now() - tick)));
      }
    })();
    await sleep(1_000);
    rows.push(summarise('`sweep` from cron every 5 s', await killAll(pairs, 1_300, 12_000)));
    cron = false;
    await cronLoop;

    // nothing
    pairs = await servers(kit, install, 5);
    rows.push(summarise('nothing', await killAll(pairs, 0, 3_000)));
    await kit.cleanup();

    // idle cost with ~1,000 other processes
    const otherDir = await kit.makeTempDir('llm-upgrade-other-');
    const other = await tk.compileFakeRunner({ version: '0.0.2', outDir: otherDir, name: 'other-app' });
    const install2 = await kit.makeSampleInstall({ version: '0.0.3' });
    await servers(kit, install2, 1);
    await fillTo(kit, tk, other, 1_000);
    const processes = tk.listPids().length;
    const idle = startCli(['watch', '--install-dir', install2.root], kit);
    await tk.waitFor(() => idle.stderr().includes('watching'), { timeoutMs: 30_000 });
    await sleep(3_000);
    const t0 = cpuTicks(idle.pid);
    const w0 = performance.now();
    await sleep(IDLE_S * 1_000);
    const cpu = ((cpuTicks(idle.pid) - t0) / 100 / ((performance.now() - w0) / 1_000)) * 100; // USER_HZ = 100
    const rss = rssKiB(idle.pid);
    idle.child.kill('SIGTERM');
    await idle.exit;
    rows.push([
      `\`watch\` idle, ${IDLE_S} s, ${processes} processes`,
      `CPU ${cpu.toFixed(2)}% of one core`,
      `RSS ${(rss / 1024).toFixed(0)} MiB`,
      '',
    ]);
  } finally {
    await kit.cleanup();
    rmSync(work, { recursive: true, force: true });
  }
  const md = [
    `### watch (Linux, Node ${process.version}, grace ${GRACE_MS} ms, ${new Date().toISOString().slice(0, 10)})`,
    '',
    '| orphan → gone | p50 | p95 | result |',
    '| --- | ---: | ---: | --- |',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    `Goals: p95 ≤ grace + 250 ms (${GRACE_MS + 250} ms); idle CPU ≤ 0.5% of one core. Total bench time: ${((performance.now() - started) / 1000).toFixed(0)} s.`,
    '',
  ].join('\n');
  await mkdir(join(here, 'results'), { recursive: true });
  await writeFile(join(here, 'results', 'watch.md'), md);
  return md;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  watchBench().then(
    (md) => process.stdout.write(md),
    (e) => {
      process.stderr.write(`watch bench failed: ${e?.stack ?? e}\n`);
      process.exit(1);
    },
  );
}
