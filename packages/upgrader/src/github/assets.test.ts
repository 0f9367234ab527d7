import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ollamaReleaseAssets } from '@llm-upgrade/core';
import { matchesUnder, pickAssets, type ReleaseAsset } from './assets.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function prefixWith(paths: string[]): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'llmu-assets-'));
  dirs.push(d);
  for (const p of paths) {
    await mkdir(join(d, p, '..'), { recursive: true });
    await writeFile(join(d, p), 'x');
  }
  return d;
}

const asset = (name: string): ReleaseAsset => ({ name, size: 1, url: `http://h/${name}`, sha256: null });
const release = [
  'ollama-linux-amd64.tar.zst',
  'ollama-linux-amd64-rocm.tar.zst',
  'ollama-linux-amd64.tgz',
  'ollama-windows-amd64.zip',
  'sha256sum.txt',
].map(asset);

describe('pickAssets', () => {
  it('takes the base alone when the install has no add-on', async () => {
    const d = await prefixWith(['bin/ollama', 'lib/ollama/cuda_v12/libggml-cuda.so']);
    const p = await pickAssets('r', release, ollamaReleaseAssets, 'linux-x64', d);
    expect([p.base.name, ...p.addons.map((a) => a.name)]).toEqual(['ollama-linux-amd64.tar.zst']);
  });
  it('adds the rocm archive when lib/ollama/rocm* is present', async () => {
    const d = await prefixWith(['bin/ollama', 'lib/ollama/rocm_v6/libggml-hip.so']);
    expect(await matchesUnder(d, 'lib/ollama/rocm*')).toBe(true);
    const p = await pickAssets('r', release, ollamaReleaseAssets, 'linux-x64', d);
    expect(p.addons.map((a) => a.name)).toEqual(['ollama-linux-amd64-rocm.tar.zst']);
  });
  it('names what it looked for and what exists when nothing matches', async () => {
    const d = await prefixWith(['bin/ollama']);
    await expect(pickAssets('o/r v1', release, ollamaReleaseAssets, 'linux-arm64', d)).rejects.toMatchObject({
      code: 'ERR_FETCH',
      message: expect.stringMatching(
        /looked for ollama-linux-arm64\.tar\.zst, ollama-linux-arm64\.tgz; it has ollama-linux-amd64\.tar\.zst/,
      ),
    });
  });
  it('refuses to drop an add-on the install has but the release lacks', async () => {
    const d = await prefixWith(['lib/ollama/rocm_v6/x.so']);
    await expect(pickAssets('r', [asset('ollama-linux-amd64.tar.zst')], ollamaReleaseAssets, 'linux-x64', d)).rejects.toMatchObject({
      code: 'ERR_FETCH',
      message: expect.stringContaining('add-on for lib/ollama/rocm*'),
    });
  });
});
