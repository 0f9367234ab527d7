#!/usr/bin/env node
// Upgrade downtime (Linux): the journaled swap of `llm-upgrade apply` against copy-after-stop
// (stop the server, copy the new files over the old ones, start it again), side by side in one
// run, on the same machine and the same payload: ~1,000 files / ~2 GB plus a fake Ollama server
// (compiled from packages/testkit/fake-runner.c) with one engine, restarted and health-checked.
//   downtime "files" : stop begins → every new file in place
//   downtime "healthy": stop begins → the health URL answers with the new version
// Needs the built packages (`npm run bench` builds first). Writes bench/results/upgrade.md.
// Disk: ~8 GB at the peak (old, new, staging, the baseline's copy), all in one temp dir that is
// removed at the end; every process started is in scope of that dir and stopped by pid.
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  closeSync,
  writeSync,
  rmSync,
  readFileSync,
  writeFileSync,
  readdirSync,
  lstatSync,
} from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..');
const { apply } = await import(pathToFileURL(join(repo, 'packages/upgrader/dist/index.js')).href);
const { stop } = await import(pathToFileURL(join(repo, 'packages/core/dist/index.js')).href);

const FILES = Number(process.env.BENCH_FILES ?? 1000);
// The same stop for both methods. core's stop gives a server part of the grace period to end
// its own engines before it signals them; the fake server does not, so a short grace keeps the
// shared stop from drowning what the two methods do differently. The table shows the stop alone.
const GRACE_MS = Number(process.env.BENCH_GRACE_MS ?? 500);
const TOTAL_BYTES = Number(process.env.BENCH_BYTES ?? 2 * 1024 ** 3);
const base = mkdtempSync(join(tmpdir(), 'llm-upgrade-bench-'));
const started = [];

function log(msg) {
  process.stderr.write(`${msg}\n`);
}

function compileRunner(version, out) {
  mkdirSync(dirname(out), { recursive: true });
  execFileSync('cc', ['-O2', `-DVERSION="${version}"`, '-o', out, join(repo, 'packages/testkit/fake-runner.c')]);
  chmodSync(out, 0o755);
}

/** ~1,000 files, ~2 GB: eight 200 MB "model-sized" libraries and many small ones, real bytes (a random block per file, repeated). */
function writePayload(dir, seed) {
  const big = 8;
  const bigSize = Math.floor((TOTAL_BYTES * 0.8) / big);
  const smallSize = Math.floor((TOTAL_BYTES * 0.2) / (FILES - big));
  const block = randomBytes(1 << 20);
  for (let i = 0; i < FILES; i++) {
    const sub = join(dir, 'lib', 'ollama', i < big ? 'cuda_v12' : `runners/r${i % 20}`);
    mkdirSync(sub, { recursive: true });
    const file = join(sub, i < big ? `libggml-cuda-${i}.so` : `part-${i}.bin`);
    const size = i < big ? bigSize : smallSize;
    const fd = openSync(file, 'w');
    const stamp = Buffer.from(`${seed}:${i}:`);
    for (let written = 0; written < size; ) {
      const n = Math.min(block.length, size - written);
      stamp.copy(block, 0);
      writeSync(fd, block, 0, n);
      written += n;
    }
    closeSync(fd);
  }
}

function install(dir, version) {
  compileRunner(version, join(dir, 'bin', 'ollama'));
  compileRunner(version, join(dir, 'lib', 'ollama', 'llama-server'));
  writePayload(dir, version);
}

function walkFiles(dir, rel = '') {
  const out = [];
  for (const name of readdirSync(join(dir, rel)).sort()) {
    const p = rel ? `${rel}/${name}` : name;
    const st = lstatSync(join(dir, p));
    if (st.isDirectory()) out.push(...walkFiles(dir, p));
    else out.push({ path: p, size: st.size, mode: st.mode & 0o777 });
  }
  return out;
}

function writeManifest(dir, version) {
  const files = walkFiles(dir).map((f) => ({
    ...f,
    sha256: createHash('sha256')
      .update(readFileSync(join(dir, f.path)))
      .digest('hex'),
  }));
  writeFileSync(
    join(dir, 'llm-upgrade.json'),
    JSON.stringify(
      { name: 'ollama', version, platform: `${process.platform}-${process.arch}`, files, smoke: ['bin/ollama', '--version'] },
      null,
      2,
    ),
  );
  return files;
}

async function freePort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', () => r(undefined)));
  const port = /** @type {import('node:net').AddressInfo} */ (srv.address()).port;
  await new Promise((r) => srv.close(r));
  return port;
}

async function startServer(root, port) {
  const child = spawn(join(root, 'bin', 'ollama'), ['serve', '--port', String(port), '--engines', '1'], {
    stdio: ['ignore', 'pipe', 'ignore'],
    detached: true,
  });
  started.push(child.pid);
  await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => String(d).includes('ready') && resolve());
    child.on('exit', () => reject(new Error('server exited before it was ready')));
  });
  child.stdout.destroy();
  child.unref();
}

async function waitVersion(port, version) {
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/api/version`);
      if (/** @type {{ version?: string }} */ (await r.json()).version === version) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

const profileFor = (port) => ({
  name: 'bench',
  roots: {},
  processes: { supervisor: [], server: ['ollama'], engine: ['llama-server'] },
  startCommand: ['bin/ollama', 'serve', '--port', String(port), '--engines', '1'],
  healthUrl: `http://127.0.0.1:${port}/api/version`,
});

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const rows = [];
try {
  log(`payload: ${FILES} files, ${(TOTAL_BYTES / 1024 ** 3).toFixed(2)} GiB per version, in ${base}`);
  const oldDir = join(base, 'old');
  const newDir = join(base, 'new');
  install(oldDir, '1.0.0');
  install(newDir, '2.0.0');
  const manifest = writeManifest(newDir, '2.0.0');
  const payloadBytes = manifest.reduce((n, f) => n + f.size, 0);

  const runs = { swap: [], copy: [] };
  for (let round = 1; round <= ROUNDS; round++) {
    log(`round ${round}/${ROUNDS}`);
    // ---- llm-upgrade apply (journaled swap)
    {
      const root = join(base, 'root-swap');
      execFileSync('cp', ['-a', oldDir, root]);
      const port = await freePort();
      await startServer(root, port);
      await waitVersion(port, '1.0.0');
      const profile = profileFor(port);
      const t0 = performance.now();
      const at = {};
      const res = await apply({
        source: newDir,
        roots: [root],
        profile,
        graceMs: GRACE_MS,
        timeoutMs: 30000,
        onEvent: (e) => {
          if (e.type === 'restart' && e.pid) started.push(e.pid);
          if (e.type === 'phase') at[e.phase] = performance.now();
        },
      });
      const total = performance.now() - t0;
      const stopMs = Math.round(at.swap - at.stop);
      runs.swap.push({
        method: 'llm-upgrade apply (journaled swap)',
        stop: stopMs,
        files: res.filesInPlaceMs,
        healthy: res.downtimeMs,
        note: `${res.journalSteps} journal writes; whole command ${(total / 1000).toFixed(1)} s (verify + stage happen before the stop)`,
      });
      await stop({ roots: [root], profile, graceMs: 2000, timeoutMs: 10000 });
      rmSync(root, { recursive: true, force: true });
    }

    // ---- copy-after-stop (stop, copy every new file over the old one, start)
    {
      const root = join(base, 'root-copy');
      execFileSync('cp', ['-a', oldDir, root]);
      const port = await freePort();
      await startServer(root, port);
      await waitVersion(port, '1.0.0');
      const profile = profileFor(port);
      const t0 = performance.now();
      const s = await stop({ roots: [root], profile, graceMs: GRACE_MS, timeoutMs: 30000 });
      if (!s.ok) throw new Error('baseline stop failed');
      const stopMs = Math.round(performance.now() - t0);
      for (const f of manifest) {
        await mkdir(dirname(join(root, f.path)), { recursive: true });
        await copyFile(join(newDir, f.path), join(root, f.path));
      }
      const files = performance.now() - t0;
      const child = spawn(join(root, 'bin', 'ollama'), ['serve', '--port', String(port), '--engines', '1'], {
        stdio: 'ignore',
        detached: true,
      });
      started.push(child.pid);
      child.unref();
      await waitVersion(port, '2.0.0');
      const healthy = performance.now() - t0;
      runs.copy.push({
        method: 'copy-after-stop',
        stop: stopMs,
        files: Math.round(files),
        healthy: Math.round(healthy),
        note: 'stop, copyFile each new file (no fsync), start',
      });
      await stop({ roots: [root], profile, graceMs: 2000, timeoutMs: 10000 });
      rmSync(root, { recursive: true, force: true });
    }
  }
  // The median round by stop → files in place, per method; the range of every column is kept.
  const median = (list) => [...list].sort((a, b) => a.files - b.files)[Math.floor(list.length / 2)];
  const range = (list, key) => `${Math.min(...list.map((r) => r[key]))}–${Math.max(...list.map((r) => r[key]))}`;
  for (const list of [runs.swap, runs.copy])
    rows.push({ ...median(list), filesRange: range(list, 'files'), healthyRange: range(list, 'healthy') });
  const swap = rows[0];
  const copy = rows[1];
  const pct = (a, b) => `${((a / b) * 100).toFixed(1)}%`;
  const when = new Date().toISOString();
  const table = [
    `## Upgrade downtime — ${manifest.length} files, ${(payloadBytes / 1024 ** 3).toFixed(2)} GiB (${when})`,
    '',
    `Machine: ${process.platform}-${process.arch}, Node ${process.version}, temp dir ${tmpdir()} (${execFileSync('df', ['-T', tmpdir()]).toString().trim().split('\n')[1]?.split(/\s+/)[1] ?? '?'}). A fake Ollama server with one engine is running; downtime starts when the stop begins. Median of ${ROUNDS} rounds (range in brackets).`,
    '',
    `| method | stop (grace ${GRACE_MS} ms) | stop → files in place | of which after the stop | stop → healthy (new version answers) | notes |`,
    '| --- | ---: | ---: | ---: | ---: | --- |',
    ...rows.map(
      (r) =>
        `| ${r.method} | ${r.stop} ms | ${r.files} ms (${r.filesRange}) | ${r.files - r.stop} ms | ${r.healthy} ms (${r.healthyRange}) | ${r.note} |`,
    ),
    `| **swap / copy** | | **${pct(swap.files, copy.files)}** | **${pct(swap.files - swap.stop, copy.files - copy.stop)}** | **${pct(swap.healthy, copy.healthy)}** | target ≤ 5% and ≤ 1,500 ms |`,
    '',
  ].join('\n');
  process.stdout.write(`${table}\n`);
  mkdirSync(join(here, 'results'), { recursive: true });
  writeFileSync(join(here, 'results', 'upgrade.md'), table);
} finally {
  // Every process we started runs from base: end it by pid (identity not needed: the exe check is below).
  for (const pid of started) {
    try {
      const exe = execFileSync('readlink', [`/proc/${pid}/exe`])
        .toString()
        .trim();
      if (exe.startsWith(base)) process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  rmSync(base, { recursive: true, force: true });
}
