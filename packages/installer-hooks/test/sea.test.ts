import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TestKit, isAlive } from '@llm-upgrade/testkit';
import { MSI_BINARY_KEY, buildMsi } from '../src/index.js';
import { extractStream } from './helpers/msiinfo.js';
import { makeSmallPayload } from './helpers/payload.js';
import { buildProbeSea, ensureSea, REPO_ROOT } from './helpers/sea.js';
import { makeTestCert, signPe, verifyPe } from './helpers/signing.js';
import { peMachine } from './helpers/stand-in.js';
import { missingTools } from './helpers/tools.js';

const missing =
  process.platform !== 'linux' ? 'the SEA tests run on Linux' : missingTools('strip', 'osslsigncode', 'openssl', 'cc', 'tar', 'npm');
if (missing) console.warn(`[installer-hooks] SEA tests skipped: ${missing}`);
const FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'packages/upgrader/package.json'), 'utf8')) as { version: string }).version;

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}
function runSea(exe: string, args: string[]): Run {
  const r = spawnSync(exe, args, { encoding: 'utf8', timeout: 120_000, env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
function logLines(file: string): Array<{ type: string; [k: string]: unknown }> {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string });
}

let sea: Awaited<ReturnType<typeof ensureSea>>;
beforeAll(async () => {
  if (!missing) sea = await ensureSea();
});

describe.skipIf(missing !== '')('linux single executable', () => {
  const kit = new TestKit();
  afterEach(async () => {
    await kit.cleanup();
  });

  it('prints its version and exits 0', () => {
    const r = runSea(sea.linux, ['--version']);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });

  it('exits 2 on bad usage, with a JSON error under --json', () => {
    const r = runSea(sea.linux, ['stop', '--no-such-option', '--json']);
    expect(r.status).toBe(2);
    const doc = JSON.parse(r.stdout) as { ok: boolean; error: { code: string } };
    expect(doc).toMatchObject({ ok: false, error: { code: 'ERR_USAGE' } });
  });

  it('stops a real runner tree (server + engines + an orphan) and logs JSON lines: exit 0', async () => {
    const install = await kit.makeSampleInstall({ version: '0.9.1' });
    const server = await kit.spawnTree(install.bin, ['serve', '--engines', '2', '--', '--model', install.model]);
    const orphaned = await kit.spawnTree(install.bin, ['serve', '--engines', '1', '--orphan', '--crash']);
    const pids = [server.pid, ...server.ready!.engines, ...orphaned.ready!.engines];
    for (const pid of pids) expect(isAlive(pid)).toBe(true);
    const log = join(await kit.makeTempDir('llm-upgrade-sea-log-'), 'dir with space', 'stop.log');

    const r = runSea(sea.linux, ['stop', '--install-dir', install.root, '--log-file', log, '--grace', '2s', '--timeout', '20s', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { ok: boolean; stopped: Array<{ pid: number }>; survivors: unknown[] };
    expect(doc.ok).toBe(true);
    expect(doc.survivors).toEqual([]);
    expect(doc.stopped.map((p) => p.pid)).toEqual(expect.arrayContaining(pids));
    for (const pid of pids) expect(isAlive(pid), `pid ${pid}`).toBe(false);

    const lines = logLines(log);
    expect(lines[0]).toMatchObject({ type: 'start', command: 'stop' });
    expect(lines.at(-1)).toMatchObject({ type: 'result', exitCode: 0 });
    expect(lines.some((l) => l.type === 'snapshot')).toBe(true);
    for (const l of lines) expect(typeof l.time).toBe('string');
  });

  it('exits 3 and names the process when a file under the install stays held by a foreign process', async () => {
    // The survivor is real: a process outside the install (so never killed by default) with
    // an open fd on a library inside it, the way an antivirus scanner or a `tail -f` would be.
    const install = await kit.makeSampleInstall({ version: '0.9.1' });
    const server = await kit.spawnTree(install.bin, ['serve', '--engines', '1']);
    const foreignDir = await kit.makeTempDir('llm-upgrade-foreign-');
    const holderExe = await kit.compileFakeRunner({ version: '0.9.1', outDir: foreignDir, name: 'scanner' });
    const holder = await kit.spawnTree(holderExe, ['engine', '--hold', install.lib]);
    const log = join(foreignDir, 'stop.log');

    const r = runSea(sea.linux, ['stop', '--install-dir', install.root, '--log-file', log, '--grace', '1s', '--timeout', '3s', '--json']);
    expect(r.status, r.stderr).toBe(3);
    const doc = JSON.parse(r.stdout) as { ok: boolean; holders: Array<{ pid: number; path: string; kind: string; inScope: boolean }> };
    expect(doc.ok).toBe(false);
    expect(doc.holders).toEqual(
      expect.arrayContaining([expect.objectContaining({ pid: holder.pid, path: install.lib, kind: 'fd', inScope: false })]),
    );
    expect(isAlive(holder.pid)).toBe(true);
    expect(isAlive(server.pid)).toBe(false);
    expect(logLines(log).at(-1)).toMatchObject({ type: 'result', exitCode: 3 });
    // Human output (what the NSIS message box shows under --quiet) names the holder.
    const quiet = runSea(sea.linux, ['stop', '--install-dir', install.root, '--grace', '1s', '--timeout', '2s', '--quiet']);
    expect(quiet.status).toBe(3);
    expect(quiet.stderr).toContain(`scanner (pid ${holder.pid}) holds ${install.lib}`);
  });
});

describe.skipIf(missing !== '')('win32 single executable', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'llm-upgrade-sea-win-'));
  });
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('is a 64-bit PE with the SEA fuse flipped, the bundle and the koffi asset inside', () => {
    const bytes = readFileSync(sea.win32);
    expect(peMachine(bytes)).toBe(0x8664);
    expect(bytes.includes(Buffer.from(`${FUSE}:1`))).toBe(true);
    expect(bytes.includes(Buffer.from(`${FUSE}:0`))).toBe(false);
    expect(bytes.includes(Buffer.from('the llm-upgrade single executable loads no modules from disk'))).toBe(true);
    const koffiDir = readdirSync(sea.cacheDir).find((d) => d.startsWith('koffi-win32-x64-'));
    expect(koffiDir).toBeDefined();
    const koffi = readFileSync(join(sea.cacheDir, koffiDir!, 'package/win32_x64/koffi.node'));
    const middle = koffi.subarray(koffi.length >> 1, (koffi.length >> 1) + 4096);
    expect(bytes.includes(middle)).toBe(true);
  });

  it('osslsigncode signs it and verifies the signature against the test CA', () => {
    const cert = makeTestCert(work);
    const signed = join(work, 'llm-upgrade-signed.exe');
    signPe(cert, sea.win32, signed);
    const v = verifyPe(cert, signed);
    expect(v.output).toMatch(/Signature verification: ok/);
    expect(v.status).toBe(0);
  });

  it('goes into an MSI’s Binary table unchanged', async () => {
    makeSmallPayload(join(work, 'payload'));
    const msi = join(work, 'with-real-sea.msi');
    await buildMsi(
      {
        productName: 'Sample LLM App',
        manufacturer: 'llm-upgrade tests',
        version: '1.0.0',
        upgradeCode: '0F6C1B7E-3D2A-4E8B-9C51-7A2D3E4F5061',
        payloadDir: join(work, 'payload'),
        installDirName: 'Sample LLM App',
        upgraderExe: sea.win32,
      },
      { outFile: msi },
    );
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    expect(sha(extractStream(msi, `Binary.${MSI_BINARY_KEY}`))).toBe(sha(readFileSync(sea.win32)));
    expect(existsSync(msi)).toBe(true);
  });
});

describe.skipIf(missing !== '')('what the single executable may load', () => {
  let work: string;
  let probe: string;
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'llm-upgrade-sea-probe-'));
    // A probe entry bundled exactly like the CLI (same esbuild options, shims and entry wrapper).
    const entry = join(work, 'probe.ts');
    writeFileSync(
      entry,
      [
        "import { createRequire } from 'node:module';",
        'const out: Record<string, string> = {};',
        "try { out.disk = String(createRequire(import.meta.url)('koffi')); } catch (e) { out.disk = 'refused: ' + (e as Error).message; }",
        "out.builtin = typeof createRequire(import.meta.url)('node:os').tmpdir;",
        // core's loader, as the backends call it (kcmp, readlinkat, pidfd): the SEA asset.
        `import { loadKoffi, koffiLoadErrors } from ${JSON.stringify(join(REPO_ROOT, 'packages/core/src/platform/win32/koffi-loader.ts'))};`,
        "out.loader = String(loadKoffi()?.version ?? 'null: ' + koffiLoadErrors().join('; '));",
        "import('koffi').then((k: { default?: { version?: string }; version?: string }) => { out.koffi = String((k.default ?? k).version); }, (e: Error) => { out.koffi = 'error: ' + e.message; }).finally(() => console.log(JSON.stringify(out)));",
      ].join('\n'),
    );
    probe = await buildProbeSea(entry, join(work, 'out'));
    // A planted module next to the executable, where Node's resolution would look first.
    mkdirSync(join(work, 'out', 'node_modules', 'koffi'), { recursive: true });
    writeFileSync(join(work, 'out', 'node_modules', 'koffi', 'index.js'), "module.exports = 'PLANTED';");
  });
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('resolves built-ins only through createRequire, never node_modules on disk', () => {
    const r = runSea(probe, []);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, string>;
    expect(out.disk).toMatch(/^refused: .*loads no modules from disk/);
    expect(out.builtin).toBe('function');
  });

  it('loads koffi from the native module named by LLM_UPGRADE_KOFFI_NATIVE (how the win32 build loads its asset)', () => {
    const native = join(REPO_ROOT, 'node_modules/@koromix/koffi-linux-x64/linux_x64/koffi.node');
    if (!existsSync(native)) throw new Error(`${native} is missing: run npm install`);
    const r = spawnSync(probe, [], { encoding: 'utf8', env: { ...process.env, LLM_UPGRADE_KOFFI_NATIVE: native } });
    expect(r.status, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as Record<string, string>).koffi).toBe('3.3.4');
  });

  it('the Linux executable carries koffi.node: loaded from its asset, and nothing is left in the temp directory', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'llm-upgrade-sea-tmp-'));
    try {
      const r = spawnSync(probe, [], { encoding: 'utf8', env: { ...process.env, TMPDIR: tmp, LLM_UPGRADE_KOFFI_NATIVE: '' } });
      expect(r.status, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout) as Record<string, string>;
      expect(out.loader).toBe('3.3.4');
      expect(out.koffi).toBe('3.3.4');
      // Both extractions (core's loader and the `import 'koffi'` shim) deleted their copy once loaded.
      expect(readdirSync(tmp)).toEqual([]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
