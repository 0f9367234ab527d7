import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { zstdDecompress, zstdDecoder } from './zstd.js';

/** `zstd -19` of data, by the real zstd program (as Ollama's CI makes its archives). */
const zstd = (data: Buffer, level = 19) => execFileSync('zstd', [`-${level}`, '-q', '-c'], { input: data, maxBuffer: 64 << 20 });

async function* chunked(data: Buffer, size: number, seen?: { bytes: number }): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) {
    if (seen) seen.bytes = Math.min(data.length, i + size);
    yield data.subarray(i, i + size);
  }
}

async function collect(gen: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of gen) out.push(c);
  return Buffer.concat(out);
}

// Half random (incompressible raw blocks), half repetitive (compressed blocks), several MiB.
const data = Buffer.concat([randomBytes(2 << 20), Buffer.alloc(2 << 20, 'llama-server '), randomBytes(12345)]);
let packed19: Buffer | undefined;
const packed = () => (packed19 ??= zstd(data));
// Generous: compressing with -19 on a loaded 2-core machine takes seconds.
const SLOW = 60_000;

describe(`zstdDecompress (here: ${zstdDecoder})`, () => {
  for (const forceLibrary of [false, true]) {
    it(`${forceLibrary ? 'fzstd' : 'the default decoder'}: decodes zstd -19 output fed in odd-sized chunks`, async () => {
      // Buffer.equals: vitest's deep equality walks megabytes byte by byte.
      expect((await collect(zstdDecompress(chunked(packed(), 7001), { forceLibrary }))).equals(data)).toBe(true);
      expect((await collect(zstdDecompress(chunked(packed(), 1 << 20), { forceLibrary }))).equals(data)).toBe(true);
    }, SLOW);
  }

  it('streams: the first output arrives long before the input is consumed (bounded memory)', async () => {
    const fast = zstd(data, 3);
    const seen = { bytes: 0 };
    let atFirst = -1;
    let total = 0;
    for await (const c of zstdDecompress(chunked(fast, 64 << 10, seen), { forceLibrary: true })) {
      if (atFirst < 0) atFirst = seen.bytes;
      total += c.length;
      expect(c.length).toBeLessThanOrEqual(1 << 20);
    }
    expect(total).toBe(data.length);
    expect(atFirst).toBeGreaterThan(0);
    expect(atFirst).toBeLessThan(fast.length / 2);
  }, SLOW);

  it('decodes concatenated frames; a truncated stream or garbage throws', async () => {
    const a = Buffer.from('first frame\n'.repeat(1000));
    const b = randomBytes(5000);
    expect((await collect(zstdDecompress(chunked(Buffer.concat([zstd(a), zstd(b)]), 4096), { forceLibrary: true }))).equals(Buffer.concat([a, b]))).toBe(true);
    const whole = packed();
    await expect(collect(zstdDecompress(chunked(whole.subarray(0, whole.length - 100), 65536), { forceLibrary: true }))).rejects.toThrow();
    await expect(collect(zstdDecompress(chunked(randomBytes(4096), 1024), { forceLibrary: true }))).rejects.toThrow();
    await expect(collect(zstdDecompress(chunked(Buffer.alloc(0), 1), { forceLibrary: true }))).rejects.toThrow(/empty/);
  }, SLOW);
});
