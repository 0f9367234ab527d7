// Issue 11: an Ollama install laid out by install.sh (PREFIX/bin/ollama + PREFIX/lib/ollama, with
// another tool in PREFIX/bin) upgraded from Ollama-style release archives (no llm-upgrade.json,
// verified against sha256sum.txt), through the real CLI, the profile found via PATH.
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freePort,
  identityOf,
  isAlive,
  layOutOllamaInstall,
  makeOllamaRelease,
  TestKit,
  versionAt,
  waitFor,
  type OllamaInstall,
  type OllamaRelease,
  type SpawnedTree,
} from '@llm-upgrade/testkit';
import { ensureBuilt, runCli, sh, treeDigest } from './helpers.js';

const kit = new TestKit();
let v1: OllamaRelease;
let v2: OllamaRelease;

beforeAll(async () => {
  ensureBuilt();
  v1 = await makeOllamaRelease(kit, { version: '0.5.1' });
  v2 = await makeOllamaRelease(kit, { version: '0.6.0' });
}, 120_000);

afterAll(async () => {
  await kit.cleanup();
});

/** The CLI as a user runs it: the ollama profile, found through PATH. */
const cli = (inst: OllamaInstall, args: string[]) =>
  runCli([...args, '--profile', 'ollama', '--json', '--timeout', '60s'], {
    env: { PATH: `${inst.binDir}:${process.env.PATH}` },
    timeoutMs: 150_000,
  });

/** bin/ollama and lib/ollama of the install, as one comparable string. */
async function ollamaTree(inst: OllamaInstall): Promise<string> {
  return `${await treeDigest(join(inst.prefix, 'lib'))}\n${await sh('sha256sum', [inst.bin])}`;
}

interface Running {
  server: SpawnedTree;
  port: number;
  orphan: number;
  othertool: SpawnedTree;
}

/** othertool running from PREFIX/bin, `ollama serve` on OLLAMA_HOST with two engines mapping a .so, and an orphaned engine. */
async function startAll(inst: OllamaInstall): Promise<Running> {
  const othertool = await kit.spawnTree(inst.othertool, ['serve', '--port', '0']);
  const port = await freePort();
  const so = join(inst.lib, 'libggml-base.so');
  const server = await kit.spawnTree(inst.bin, ['serve', '--engines', '2', '--', '--model', so], {
    env: { ...process.env, OLLAMA_HOST: `127.0.0.1:${port}` },
  });
  const crashed = await kit.spawnTree(inst.bin, ['serve', '--orphan', '--crash', '--engines', '1', '--', '--model', so]);
  const orphan = crashed.ready!.engines[0]!;
  await waitFor(() => !isAlive(crashed.pid), { what: 'the crashing server to die' });
  expect(await versionAt(port)).toBe(inst.version);
  return { server, port, orphan, othertool };
}

describe('install.sh layout upgraded from Ollama release archives', () => {
  let inst: OllamaInstall;
  let run: Running;
  let before: string;
  let othertoolBytes: Buffer;

  beforeAll(async () => {
    inst = await layOutOllamaInstall(kit, v1, { addOns: [v1.rocm] });
    run = await startAll(inst);
    before = await ollamaTree(inst);
    othertoolBytes = await readFile(inst.othertool);
  }, 120_000);

  it('status finds the install via PATH and reports its version', async () => {
    const r = await cli(inst, ['status']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.version).toBe('0.5.1');
    expect(r.json.roots).toEqual([inst.bin, inst.lib]);
    expect(r.json.base).toBe(inst.prefix);
    expect(r.json.server).toMatchObject({
      url: `http://127.0.0.1:${run.port}/api/version`,
      source: 'socket',
      ollamaHost: `127.0.0.1:${run.port}`,
      pid: run.server.pid,
    });
    expect(r.json.services).toEqual([expect.objectContaining({ name: 'ollama.service', manager: 'systemd' })]);
    const text = await runCli(['status', '--profile', 'ollama'], { env: { PATH: `${inst.binDir}:${process.env.PATH}` } });
    expect(text.stdout).toContain('version: 0.5.1 (reported by bin/ollama --version');
    expect(text.stdout).toContain(
      `server: http://127.0.0.1:${run.port}/api/version (listening now, pid ${run.server.pid}, OLLAMA_HOST=127.0.0.1:${run.port})`,
    );
    expect(text.stdout).toMatch(/service: ollama\.service \(/);
  });

  it('a flipped byte in an archive: exit 2, nothing stopped, the install byte-identical', async () => {
    const dir = await kit.makeTempDir('ollama-tampered-');
    const tampered = join(dir, 'ollama-linux-amd64.tar.zst');
    const bytes = await readFile(v2.base);
    const at = Math.floor(bytes.length / 2);
    bytes[at] = bytes[at]! ^ 0x01;
    await writeFile(tampered, bytes);
    const r = await cli(inst, ['apply', tampered, v2.rocm, '--checksums', v2.sha256sums]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.json.error.code).toBe('ERR_BAD_CHECKSUM');
    expect(r.json.error.message).toContain('ollama-linux-amd64.tar.zst');
    expect(await ollamaTree(inst)).toBe(before);
    expect(identityOf(run.server.pid)).not.toBeNull();
    expect(await versionAt(run.port)).toBe('0.5.1');
    expect(existsSync(join(inst.prefix, '.llm-upgrade', 'staging'))).toBe(false);
  });

  it('an archive with no line in --checksums: exit 2 naming it', async () => {
    const dir = await kit.makeTempDir('ollama-unlisted-');
    const extra = join(dir, 'ollama-linux-amd64-jetpack6.tar.zst');
    await copyFile(v2.rocm, extra);
    const r = await cli(inst, ['apply', v2.base, extra, '--checksums', v2.sha256sums]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.json.error.message).toContain('ollama-linux-amd64-jetpack6.tar.zst');
    expect(await ollamaTree(inst)).toBe(before);
  });

  it('an archive entry outside the roots (bin/othertool) is refused, naming it', async () => {
    const hostile = await makeOllamaRelease(kit, { version: '0.6.1', extraFiles: { 'bin/othertool': '#!/bin/sh\necho replaced\n' } });
    const r = await cli(inst, ['apply', hostile.base, '--checksums', hostile.sha256sums]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.json.error.code).toBe('ERR_UNSAFE_ENTRY');
    expect(r.json.error.message).toContain('bin/othertool');
    expect(await readFile(inst.othertool)).toEqual(othertoolBytes);
    expect(await ollamaTree(inst)).toBe(before);
  });

  it('apply base + rocm: v2 in place with the add-on, othertool untouched and alive, the server back on its port', async () => {
    const otherPid = run.othertool.pid;
    const otherKey = identityOf(otherPid);
    const r = await cli(inst, ['apply', v2.base, v2.rocm, '--checksums', v2.sha256sums]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json).toMatchObject({
      ok: true,
      from: '0.5.1',
      to: '0.6.0',
      phase: 'commit',
      changed: true,
      root: inst.prefix,
      healthy: true,
    });
    expect((await sh(inst.bin, ['--version'])).trim()).toBe('ollama version is 0.6.0');
    for (const f of v2.rocmFiles) expect(await readFile(join(inst.prefix, f))).toEqual(await readFile(join(v2.rocmTree, f)));
    expect(await readFile(join(inst.lib, 'libggml-base.so'))).toEqual(await readFile(join(v2.baseTree, 'lib/ollama/libggml-base.so')));
    expect(await treeDigest(inst.lib)).toBe(await treeDigest(join(await mergedTree(v2), 'lib', 'ollama')));
    expect(await readFile(inst.othertool)).toEqual(othertoolBytes);
    expect(identityOf(otherPid)).toBe(otherKey);
    expect(isAlive(run.orphan)).toBe(false);
    await waitFor(async () => (await versionAt(run.port)) === '0.6.0', { timeoutMs: 30_000, what: 'the new server on its port' });
    // State lives at the prefix, never in the shared bin/.
    expect(existsSync(join(inst.prefix, '.llm-upgrade', 'installed.json'))).toBe(true);
    expect(existsSync(join(inst.binDir, '.llm-upgrade'))).toBe(false);
    const installed = JSON.parse(await readFile(join(inst.prefix, '.llm-upgrade', 'installed.json'), 'utf8'));
    expect(installed).toMatchObject({ name: 'ollama', version: '0.6.0' });
    expect(installed.files.map((f: { path: string }) => f.path)).toContain('lib/ollama/rocm_v6/libggml-hip.so');

    const s = await cli(inst, ['status']);
    expect(s.json.version).toBe('0.6.0');
  });

  it('rollback returns to v1 byte for byte, the server answering 0.5.1', async () => {
    const r = await cli(inst, ['rollback']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json).toMatchObject({ from: '0.6.0', to: '0.5.1' });
    expect(await ollamaTree(inst)).toBe(before);
    expect(await readFile(inst.othertool)).toEqual(othertoolBytes);
    expect(isAlive(run.othertool.pid)).toBe(true);
    await waitFor(async () => (await versionAt(run.port)) === '0.5.1', { timeoutMs: 30_000, what: 'the old server on its port' });
  });
});

/** What `zstd -d | tar x` of base then rocm gives: the reference tree for a v2 install. */
async function mergedTree(rel: OllamaRelease): Promise<string> {
  const dir = await kit.makeTempDir('ollama-merged-');
  for (const a of [rel.base, rel.rocm]) await sh('bash', ['-c', `zstd -d -q -c '${a}' | tar x -C '${dir}'`]);
  return dir;
}

describe('other archive formats', () => {
  for (const format of ['tgz', 'zip'] as const) {
    it(`.${format} base + add-on onto a stopped install`, async () => {
      const inst = await layOutOllamaInstall(kit, v1);
      const [base, rocm] = format === 'tgz' ? [v2.baseTgz, v2.rocmTgz] : [v2.baseZip, v2.rocmZip];
      const r = await cli(inst, ['apply', base, rocm, '--checksums', v2.sha256sums]);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.json).toMatchObject({ from: '0.5.1', to: '0.6.0' });
      expect(await treeDigest(inst.lib)).toBe(await treeDigest(join(await mergedTree(v2), 'lib', 'ollama')));
      expect((await sh(inst.bin, ['--version'])).trim()).toBe('ollama version is 0.6.0');
    });
  }

  it('--version V names the version; a downgrade is refused (exit 2)', async () => {
    const inst = await layOutOllamaInstall(kit, v1);
    let r = await cli(inst, ['apply', v2.base, '--checksums', v2.sha256sums, '--version', '0.6.0']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json).toMatchObject({ from: '0.5.1', to: '0.6.0' });
    r = await cli(inst, ['apply', v1.base, '--checksums', v1.sha256sums]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.json.error.code).toBe('ERR_DOWNGRADE');
    expect((await sh(inst.bin, ['--version'])).trim()).toBe('ollama version is 0.6.0');
  });

  it('our own packages (llm-upgrade pack) on the prefix layout too: bin/ollama + lib/ollama only', async () => {
    const inst = await layOutOllamaInstall(kit, v1);
    const pkg = join(await kit.makeTempDir('ollama-pack-'), 'ollama-0.6.0-linux-x64.tar.gz');
    let r = await runCli([
      'pack',
      v2.baseTree,
      '--name',
      'ollama',
      '--version',
      '0.6.0',
      '--smoke',
      'bin/ollama --version',
      '--out',
      pkg,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    r = await cli(inst, ['apply', pkg]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json).toMatchObject({ from: '0.5.1', to: '0.6.0', root: inst.prefix });
    expect((await sh(inst.bin, ['--version'])).trim()).toBe('ollama version is 0.6.0');
    const hostileTree = (await makeOllamaRelease(kit, { version: '0.7.0', extraFiles: { 'bin/othertool': 'x' } })).baseTree;
    const bad = join(await kit.makeTempDir('ollama-pack-'), 'ollama-0.7.0-linux-x64.tar.gz');
    expect((await runCli(['pack', hostileTree, '--name', 'ollama', '--version', '0.7.0', '--out', bad])).code).toBe(0);
    r = await cli(inst, ['apply', bad]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.json.error.message).toContain('bin/othertool');
    expect((await sh(inst.bin, ['--version'])).trim()).toBe('ollama version is 0.6.0');
  });
});
