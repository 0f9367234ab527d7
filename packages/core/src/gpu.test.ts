import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { NVIDIA_SMI_ARGS, parseNvidiaSmi, queryNvidiaSmi } from './gpu.js';
import type { Exec } from './exec.js';

const recorded = (name: string) =>
  readFileSync(fileURLToPath(new URL(`./platform/__recorded__/nvidia-smi/${name}`, import.meta.url)), 'utf8');

describe('parseNvidiaSmi', () => {
  it('reads pid, MiB and GPU per line, one line per process and GPU', () => {
    expect(parseNvidiaSmi(recorded('linux-two-gpus.csv'))).toEqual([
      { pid: 41234, usedMiB: 7840, gpu: 'GPU-5f3c8a7e-2b1d-4c9e-9a0f-1e2d3c4b5a69' },
      { pid: 41302, usedMiB: 1022, gpu: 'GPU-5f3c8a7e-2b1d-4c9e-9a0f-1e2d3c4b5a69' },
      { pid: 41302, usedMiB: 988, gpu: 'GPU-a1b2c3d4-1111-2222-3333-444455556666' },
    ]);
  });
  it('keeps processes whose memory is [N/A] (Windows WDDM) or [Not Supported], as NaN', () => {
    const wddm = parseNvidiaSmi(recorded('windows-wddm.csv'));
    expect(wddm.map((g) => g.pid)).toEqual([7392, 8120]);
    expect(wddm.every((g) => Number.isNaN(g.usedMiB))).toBe(true);
    const ns = parseNvidiaSmi(recorded('not-supported.csv'));
    expect(ns).toHaveLength(1);
    expect(Number.isNaN(ns[0]?.usedMiB)).toBe(true);
  });
  it('finds nothing in empty output or a driver error', () => {
    expect(parseNvidiaSmi(recorded('no-processes.csv'))).toEqual([]);
    expect(parseNvidiaSmi(recorded('no-driver.txt'))).toEqual([]);
  });
});

describe('queryNvidiaSmi', () => {
  it('tries candidates until one exists and passes the query arguments', async () => {
    const calls: string[][] = [];
    const exec: Exec = async (file, args) => {
      calls.push([file, ...args]);
      return file === 'b'
        ? { code: 0, stdout: recorded('linux-two-gpus.csv'), stderr: '' }
        : { code: null, stdout: '', stderr: '', error: 'ENOENT' };
    };
    expect(await queryNvidiaSmi({ candidates: ['a', 'b', 'c'], exec })).toHaveLength(3);
    expect(calls).toEqual([
      ['a', ...NVIDIA_SMI_ARGS],
      ['b', ...NVIDIA_SMI_ARGS],
    ]);
  });
  it('is [] when nvidia-smi fails (no driver) or times out', async () => {
    expect(await queryNvidiaSmi({ exec: async () => ({ code: 9, stdout: recorded('no-driver.txt'), stderr: '' }) })).toEqual([]);
    expect(await queryNvidiaSmi({ exec: async () => ({ code: null, stdout: '', stderr: '', error: 'ETIMEDOUT' }) })).toEqual([]);
  });
  it('is [] on this machine when nvidia-smi is missing, without throwing', async () => {
    const r = await queryNvidiaSmi({ candidates: ['nvidia-smi-does-not-exist-here'] });
    expect(r).toEqual([]);
  });
});
