import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installLayout, placeInUnits, prefixOf } from './layout.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'layout-'));
  await mkdir(join(dir, 'usr/local/bin'), { recursive: true });
  await mkdir(join(dir, 'usr/local/lib/ollama'), { recursive: true });
  await writeFile(join(dir, 'usr/local/bin/ollama'), '');
  await mkdir(join(dir, 'opt/ollama'), { recursive: true });
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('installLayout', () => {
  it('a directory root is the whole install', () => {
    expect(installLayout([join(dir, 'opt/ollama')])).toEqual({ base: join(dir, 'opt/ollama'), units: null });
  });
  it("install.sh's file + directory roots are one install at their prefix, never in bin/", () => {
    const roots = [join(dir, 'usr/local/bin/ollama'), join(dir, 'usr/local/lib/ollama')];
    expect(installLayout(roots)).toEqual({ base: join(dir, 'usr/local'), units: ['bin/ollama', 'lib/ollama'] });
    expect(installLayout([roots[0]!])).toEqual({ base: join(dir, 'usr/local'), units: ['bin/ollama'] });
    expect(prefixOf(roots)).toBe(join(dir, 'usr/local'));
  });
  it('stays a prefix layout while a transaction has the file root in its backup', async () => {
    const roots = [join(dir, 'usr/local/bin/gone'), join(dir, 'usr/local/lib/ollama')];
    expect(installLayout(roots).units).toBeNull();
    await mkdir(join(dir, 'usr/local/.llm-upgrade'));
    expect(installLayout(roots)).toEqual({ base: join(dir, 'usr/local'), units: ['bin/gone', 'lib/ollama'] });
  });
  it('places entries inside, above or outside the units', () => {
    const units = ['bin/ollama', 'lib/ollama'];
    expect(placeInUnits('lib/ollama/cuda_v12/libggml-cuda.so', units)).toBe('inside');
    expect(placeInUnits('bin/ollama', units)).toBe('inside');
    expect(placeInUnits('bin', units)).toBe('above');
    expect(placeInUnits('lib', units)).toBe('above');
    expect(placeInUnits('bin/othertool', units)).toBe('outside');
    expect(placeInUnits('bin/ollama2', units)).toBe('outside');
    expect(placeInUnits('lib/ollamax/x', units)).toBe('outside');
  });
});
