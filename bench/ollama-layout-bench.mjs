#!/usr/bin/env node
// Issue 11's bench (Linux): an install laid out like Ollama's install.sh (PREFIX/bin/ollama +
// PREFIX/lib/ollama) upgraded from an Ollama-style release archive (.tar.zst + sha256sum.txt),
// side by side in one run on the same archive:
//   1. install.sh's sequence: rm -rf lib/ollama, zstd -d | tar x, restart the server;
//   2. llm-upgrade apply ARCHIVE --checksums sha256sum.txt (verify + stage before the stop, swap).
// Measured: stop → healthy (the new version answers), and the window in which the install is
// half-deleted (install.sh: the rm plus the whole extract; ours: none — the swap is renames of
// whole roots, the old tree complete until it is replaced). Also end to end: a whole `apply` of
// the archive onto a stopped install vs a plain `zstd -d | tar x` of it (goal ≤ 1.3×).
// Size: BENCH_BYTES (default 2 GiB of payload, half-compressible); zstd level BENCH_ZSTD_LEVEL
// (default 3: Ollama uses 19, which takes many minutes to *build* 2 GB here; decoding speed is
// much the same). Writes bench/results/ollama-layout.md. Everything lives in one temp dir that is
// removed at the end; every process started runs from it and is stopped by pid.
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  createReadStream,
  mkdirSync,
  mkdtempSync,
  openSync,
  readlinkSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..');
const { apply } = await import(pathToFileURL(join(repo, 'packages/upgrader/dist/index.js')).href);
const { stop, ollamaProfile } = await import(pathToFileURL(join(repo, 'packages/core/dist/index.js')).href);

const TOTAL_BYTES = Number(process.env.BENCH_BYTES ?? 2 * 1024 ** 3);
const LEVEL = Number(process.env.BENCH_ZSTD_LEVEL ?? 3);
const GRACE_MS = Number(process.env.BENCH_GRACE_MS ?? 500);
const base = mkdtempSync(join(tmpdir(), 'llm-upgrade-ollama-bench-'));
const started = [];
const log = (msg) => process.stderr.write(`${msg}\n`);
const sh = (script) => execFileSync('bash', ['-c', `set -euo pipefail; ${script}`], { stdio: ['ignore', 'ignore', 'inherit'] });
const q = (s) => `'${s.replace(/'/g, `'\\''`)}'`;

function compileRunner(version, out) {
  mkdirSync(dirname(out), { recursive: true });
  execFileSync('cc', ['-O2', `-DVERSION="${version}"`, '-o', out, join(repo, 'packages/testkit/fake-runner.c')]);
  chmodSync(out, 0o755);
}

/** A release tree like Ollama's: bin/ollama, lib/ollama/{llama-server, libggml-*.so, cuda_v12/, cuda_v13/}; half-compressible bytes. */
function releaseTree(dir, version) {
  compileRunner(version, join(dir, 'bin', 'ollama'));
  compileRunner(version, join(dir, 'lib', 'ollama', 'llama-server'));
  /** @type {Array<[string, number]>} */
  const files = [
    ...['libggml-base.so', 'libggml-cpu-haswell.so', 'libggml-cpu-skylakex.so'].map(
      (n) => /** @type {[string, number]} */ ([join('lib/ollama', n), 0.01]),
    ),
    ...['libggml-cuda.so', 'libcublasLt.so.12', 'libcublas.so.12', 'libcudart.so.12'].map(
      (n, i) => /** @type {[string, number]} */ ([join('lib/ollama/cuda_v12', n), [0.2, 0.3, 0.05, 0.01][i] ?? 0]),
    ),
    ...['libggml-cuda.so', 'libcublasLt.so.13', 'libcublas.so.13'].map(
      (n, i) => /** @type {[string, number]} */ ([join('lib/ollama/cuda_v13', n), [0.12, 0.25, 0.03][i] ?? 0]),
    ),
  ];
  const text = Buffer.alloc(512 * 1024, `ollama ${version} kernel table `);
  for (const [rel, share] of files) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    const fd = openSync(join(dir, rel), 'w');
    const size = Math.floor(TOTAL_BYTES * share);
    for (let written = 0; written < size; ) {
      const block = Buffer.concat([randomBytes(512 * 1024), text]);
      const n = Math.min(block.length, size - written);
      writeSync(fd, block, 0, n);
      written += n;
    }
    closeSync(fd);
  }
}

async function sha256File(path) {
  const h = createHash('sha256');
  for await (const c of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(c);
  return h.digest('hex');
}

async function freePort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', () => r(undefined)));
  const port = /** @type {import('node:net').AddressInfo} */ (srv.address()).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** `ollama serve` on OLLAMA_HOST with one engine mapping a library, as install.sh's service would run it. */
async function startServer(prefix, port) {
  const so = join(prefix, 'lib', 'ollama', 'libggml-base.so');
  const child = spawn(join(prefix, 'bin', 'ollama'), ['serve', '--engines', '1', '--', '--model', so], {
    stdio: ['ignore', 'pipe', 'ignore'],
    detached: true,
    env: { ...process.env, OLLAMA_HOST: `127.0.0.1:${port}` },
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

function layOut(prefix, archive) {
  mkdirSync(join(prefix, 'bin'), { recursive: true });
  mkdirSync(join(prefix, 'lib'), { recursive: true });
  sh(`zstd -d -q -c ${q(archive)} | tar x -C ${q(prefix)}`);
  compileRunner('9.9.9', join(prefix, 'bin', 'othertool'));
}

const roots = (prefix) => [join(prefix, 'bin', 'ollama'), join(prefix, 'lib', 'ollama')];
const rows = [];
try {
  log(`payload: ${(TOTAL_BYTES / 1024 ** 3).toFixed(2)} GiB per version, zstd -${LEVEL}, in ${base}`);
  const rel = join(base, 'release');
  for (const [v, name] of [
    ['0.5.1', 'v1'],
    ['0.6.0', 'v2'],
  ]) {
    releaseTree(join(base, `tree-${name}`), v);
    mkdirSync(join(rel, name), { recursive: true });
    sh(
      `cd ${q(join(base, `tree-${name}`))} && tar c bin/ollama lib/ollama --owner 0 --group 0 | zstd -${LEVEL} -q -T0 -c > ${q(join(rel, name, 'ollama-linux-amd64.tar.zst'))}`,
    );
    writeFileSync(
      join(rel, name, 'sha256sum.txt'),
      `${await sha256File(join(rel, name, 'ollama-linux-amd64.tar.zst'))}  ./ollama-linux-amd64.tar.zst\n`,
    );
    rmSync(join(base, `tree-${name}`), { recursive: true, force: true });
  }
  const v1 = join(rel, 'v1', 'ollama-linux-amd64.tar.zst');
  const v2 = join(rel, 'v2', 'ollama-linux-amd64.tar.zst');
  const sums = join(rel, 'v2', 'sha256sum.txt');
  const archiveBytes = Number(execFileSync('stat', ['-c', '%s', v2]).toString().trim());

  // ---- 1. install.sh's sequence on a running install
  {
    const prefix = join(base, 'installsh', 'usr', 'local');
    layOut(prefix, v1);
    const port = await freePort();
    await startServer(prefix, port);
    await waitVersion(port, '0.5.1');
    const t0 = performance.now();
    sh(`rm -rf ${q(join(prefix, 'lib', 'ollama'))}`);
    sh(`zstd -d -q -c ${q(v2)} | tar x -C ${q(prefix)}`);
    const extracted = performance.now();
    // install.sh then restarts the service: stop, start, wait for the new version.
    const s = await stop({ roots: roots(prefix), profile: ollamaProfile, graceMs: GRACE_MS, timeoutMs: 30000 });
    if (!s.ok) throw new Error('install.sh baseline: the stop failed');
    await startServer(prefix, port);
    await waitVersion(port, '0.6.0');
    const healthy = performance.now();
    rows.push({
      method: "install.sh's sequence (rm -rf lib/ollama, zstd -d \\| tar x, restart)",
      halfDeleted: Math.round(extracted - t0),
      stopToHealthy: Math.round(healthy - extracted),
      total: Math.round(healthy - t0),
      note: 'the running server keeps the deleted files mapped; a new engine spawned meanwhile fails',
    });
    await stop({ roots: roots(prefix), profile: ollamaProfile, graceMs: 2000, timeoutMs: 10000 });
  }

  // ---- 2. llm-upgrade apply on a running install
  {
    const prefix = join(base, 'apply', 'usr', 'local');
    layOut(prefix, v1);
    const port = await freePort();
    await startServer(prefix, port);
    await waitVersion(port, '0.5.1');
    const at = {};
    let lastSwap = 0;
    const t0 = performance.now();
    const res = await apply({
      archives: [v2],
      checksums: sums,
      roots: roots(prefix),
      profile: ollamaProfile,
      graceMs: GRACE_MS,
      timeoutMs: 60000,
      onEvent: (e) => {
        if (e.type === 'restart' && e.pid) started.push(e.pid);
        if (e.type === 'phase') at[e.phase] = performance.now();
        if (e.type === 'swap') lastSwap = performance.now();
      },
    });
    const total = performance.now() - t0;
    await waitVersion(port, '0.6.0');
    // The swap renames whole roots: between its first and last move one root is old, one new, both complete.
    rows.push({
      method: 'llm-upgrade apply ARCHIVE --checksums sha256sum.txt',
      halfDeleted: 0,
      stopToHealthy: res.downtimeMs,
      total: Math.round(total),
      note: `verify + stage ${((at.stop - at.verify) / 1000).toFixed(1)} s before the stop; swap ${Math.round(lastSwap - at.swap)} ms (${res.journalSteps} journal writes)`,
    });
    await stop({ roots: roots(prefix), profile: ollamaProfile, graceMs: 2000, timeoutMs: 10000 });
  }

  // ---- 3. end to end on a stopped install: apply vs a plain extract of the same archive
  const plainDir = join(base, 'plain');
  mkdirSync(plainDir);
  const p0 = performance.now();
  sh(`zstd -d -q -c ${q(v2)} | tar x -C ${q(plainDir)}`);
  const plainMs = performance.now() - p0;
  // The same, made durable (apply fsyncs what it stages before the swap publishes it).
  const plainSyncDir = join(base, 'plain-sync');
  mkdirSync(plainSyncDir);
  const s0 = performance.now();
  sh(`zstd -d -q -c ${q(v2)} | tar x -C ${q(plainSyncDir)} && sync -f ${q(plainSyncDir)}`);
  const plainSyncMs = performance.now() - s0;
  const prefix = join(base, 'e2e', 'usr', 'local');
  layOut(prefix, v1);
  const a0 = performance.now();
  await apply({ archives: [v2], checksums: sums, roots: roots(prefix), profile: ollamaProfile, graceMs: GRACE_MS, timeoutMs: 60000 });
  const applyMs = performance.now() - a0;

  const when = new Date().toISOString();
  const table = [
    `## Ollama install.sh layout — ${(TOTAL_BYTES / 1024 ** 3).toFixed(2)} GiB payload, archive ${(archiveBytes / 1024 ** 3).toFixed(2)} GiB (zstd -${LEVEL}) (${when})`,
    '',
    `Machine: ${process.platform}-${process.arch}, Node ${process.version}, temp dir ${tmpdir()}. One run; a fake \`ollama serve\` on OLLAMA_HOST with one engine mapping a library.`,
    '',
    '| method | install half-deleted | stop → healthy | whole upgrade | note |',
    '| --- | ---: | ---: | ---: | --- |',
    ...rows.map((r) => `| ${r.method} | ${r.halfDeleted} ms | ${r.stopToHealthy} ms | ${r.total} ms | ${r.note} |`),
    '',
    '| end to end (stopped install) | time |',
    '| --- | ---: |',
    `| \`zstd -d \\| tar x\` of the archive | ${Math.round(plainMs)} ms |`,
    `| \`apply\` (verify + stage in one pass, swap, post-check, commit) | ${Math.round(applyMs)} ms |`,
    `| \`zstd -d \\| tar x && sync -f\` (durable, as apply is) | ${Math.round(plainSyncMs)} ms |`,
    `| ratio (goal ≤ 1.3×) | ${(applyMs / plainMs).toFixed(2)}× (vs the durable extract ${(applyMs / plainSyncMs).toFixed(2)}×) |`,
    '',
  ].join('\n');
  mkdirSync(join(here, 'results'), { recursive: true });
  writeFileSync(join(here, 'results', 'ollama-layout.md'), `${table}\n`);
  process.stdout.write(`${table}\n`);
} finally {
  for (const pid of started) {
    try {
      // Only while it still runs from our temp dir: a pid may have been reused since.
      if (!readlinkSync(`/proc/${pid}/exe`).startsWith(`${base}/`)) continue;
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  rmSync(base, { recursive: true, force: true });
}
