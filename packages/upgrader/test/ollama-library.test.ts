// The library contract other feeds build on (a GitHub releases feed): apply({ archives: URLs,
// checksums: URL, sha256ByName }) over loopback HTTP, and recover of a prefix-layout swap cut short.
import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ollamaProfile } from '@llm-upgrade/core';
import { layOutOllamaInstall, makeOllamaRelease, TestKit, type OllamaRelease } from '@llm-upgrade/testkit';
import { apply, type UpgradeEvent } from 'llm-upgrade';
import { ensureBuilt, runCli, sh, treeDigest } from './helpers.js';

const kit = new TestKit();
let v1: OllamaRelease;
let v2: OllamaRelease;
let server: Server;
let baseUrl: string;
const requests: string[] = [];

beforeAll(async () => {
  ensureBuilt();
  v1 = await makeOllamaRelease(kit, { version: '0.5.1' });
  v2 = await makeOllamaRelease(kit, { version: '0.6.0' });
  // A release host: the assets of v2 by name, no Content-Length on sha256sum.txt (chunked).
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const name = basename(req.url ?? '');
    const path = join(v2.dir, name);
    if (!existsSync(path)) {
      res.writeHead(404).end();
      return;
    }
    void stat(path).then((st) => {
      if (name === 'sha256sum.txt') res.writeHead(200, { 'content-type': 'text/plain' });
      else res.writeHead(200, { 'content-length': String(st.size) });
      createReadStream(path).pipe(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await kit.cleanup();
});

const url = (path: string) => `${baseUrl}/releases/download/v0.6.0/${basename(path)}`;

describe('apply({ archives }) as a library', () => {
  it('downloads archives by URL with progress, verifies against a checksum URL and the release digests, installs as one transaction', async () => {
    const inst = await layOutOllamaInstall(kit, v1, { addOns: [v1.rocm] });
    const events: UpgradeEvent[] = [];
    const r = await apply({
      archives: [url(v2.base), url(v2.rocm)],
      checksums: url(v2.sha256sums),
      sha256ByName: {
        'ollama-linux-amd64.tar.zst': `sha256:${v2.sha256['ollama-linux-amd64.tar.zst']}`,
        'ollama-linux-amd64-rocm.tar.zst': v2.sha256['ollama-linux-amd64-rocm.tar.zst']!,
      },
      roots: [inst.bin, inst.lib],
      profile: ollamaProfile,
      onEvent: (e) => events.push(e),
    });
    expect(r).toMatchObject({
      from: '0.5.1',
      to: '0.6.0',
      phase: 'commit',
      root: inst.prefix,
      source: 'ollama-linux-amd64.tar.zst + ollama-linux-amd64-rocm.tar.zst',
    });
    expect((await sh(inst.bin, ['--version'])).trim()).toBe('ollama version is 0.6.0');
    const downloads = events.filter((e): e is Extract<UpgradeEvent, { type: 'download' }> => e.type === 'download');
    expect(new Set(downloads.map((e) => basename(e.url)))).toEqual(
      new Set(['ollama-linux-amd64.tar.zst', 'ollama-linux-amd64-rocm.tar.zst']),
    );
    expect(downloads.every((e) => e.totalBytes > 0 && e.receivedBytes <= e.totalBytes)).toBe(true);
    // Downloads are not kept once installed.
    expect(existsSync(join(inst.prefix, '.llm-upgrade', 'downloads'))).toBe(false);
    expect(requests.some((p) => p.endsWith('/sha256sum.txt'))).toBe(true);
  });

  it('only a release digest (no checksum file) is enough; a digest that disagrees with the checksum line is refused', async () => {
    const inst = await layOutOllamaInstall(kit, v1);
    const before = await treeDigest(join(inst.prefix, 'lib'));
    const wrong = 'f'.repeat(64);
    await expect(
      apply({
        archives: [v2.base],
        checksums: v2.sha256sums,
        sha256ByName: { 'ollama-linux-amd64.tar.zst': wrong },
        roots: [inst.bin, inst.lib],
        profile: ollamaProfile,
      }),
    ).rejects.toMatchObject({ code: 'ERR_BAD_CHECKSUM', exitCode: 2 });
    expect(await treeDigest(join(inst.prefix, 'lib'))).toBe(before);
    await expect(apply({ archives: [v2.base], roots: [inst.bin, inst.lib], profile: ollamaProfile })).rejects.toMatchObject({
      code: 'ERR_BAD_CHECKSUM',
      message: expect.stringContaining('ollama-linux-amd64.tar.zst'),
    });
    const r = await apply({
      archives: [v2.base],
      sha256ByName: { 'ollama-linux-amd64.tar.zst': v2.sha256['ollama-linux-amd64.tar.zst']! },
      roots: [inst.bin, inst.lib],
      profile: ollamaProfile,
    });
    expect(r.to).toBe('0.6.0');
  });

  it('an add-on alone would remove bin/ollama: refused before anything changes', async () => {
    const inst = await layOutOllamaInstall(kit, v1);
    await expect(
      apply({ archives: [v2.rocm], checksums: v2.sha256sums, version: '0.6.0', roots: [inst.bin, inst.lib], profile: ollamaProfile }),
    ).rejects.toMatchObject({ code: 'ERR_BAD_PACKAGE', message: expect.stringContaining('bin/ollama') });
    expect((await sh(inst.bin, ['--version'])).trim()).toBe('ollama version is 0.5.1');
  });
});

describe('recover on the prefix layout', () => {
  it('a swap killed half-way (old roots moved aside, new ones not in) is rolled back by recover; othertool never moved', async () => {
    const inst = await layOutOllamaInstall(kit, v1);
    const before = `${await treeDigest(join(inst.prefix, 'lib'))}\n${await sh('sha256sum', [inst.bin, inst.othertool])}`;
    const env = { PATH: `${inst.binDir}:${process.env.PATH}` };
    // Journal writes: 1 stopping, 2 swapping (the plan), 3.. one per move; after write 4 both roots are in the backup.
    const crashed = await runCli(['apply', v2.base, v2.rocm, '--checksums', v2.sha256sums, '--profile', 'ollama', '--json'], {
      env: { ...env, LLM_UPGRADE_TEST_CRASH_AT_STEP: '4' },
    });
    expect(crashed.signal).toBe('SIGKILL');
    expect(existsSync(inst.bin)).toBe(false);
    expect(existsSync(inst.othertool)).toBe(true);
    const st = await runCli(['status', '--profile', 'ollama', '--install-dir', inst.bin, '--install-dir', inst.lib, '--json'], { env });
    expect(st.json?.transaction ?? null, st.stdout + st.stderr).toMatchObject({
      kind: 'apply',
      state: 'swapping',
      recoverWill: 'roll back',
    });
    // Found through PATH although bin/ollama is in the backup: the journal at the prefix names the install.
    const r = await runCli(['recover', '--profile', 'ollama', '--json'], { env });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json).toMatchObject({ action: 'rolled-back' });
    expect(`${await treeDigest(join(inst.prefix, 'lib'))}\n${await sh('sha256sum', [inst.bin, inst.othertool])}`).toBe(before);
  });
});
