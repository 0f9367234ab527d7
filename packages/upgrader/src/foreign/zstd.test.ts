import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { zstdDecompress, zstdDecoder } from './zstd.js';
import { zstdFramePieces } from './zstd-frames.js';

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

/** A skippable frame (RFC 8878 §3.1.2): magic 0x184D2A5?, 4-byte size, payload. */
const skippable = Buffer.concat([Buffer.from([0x53, 0x2a, 0x4d, 0x18, 5, 0, 0, 0]), Buffer.from('hello')]);

// Half random (incompressible raw blocks), half repetitive (compressed blocks), several MiB.
const data = Buffer.concat([randomBytes(2 << 20), Buffer.alloc(2 << 20, 'llama-server '), randomBytes(12345)]);
let packed19: Buffer | undefined;
const packed = () => (packed19 ??= zstd(data));
// Generous: compressing with -19 on a loaded 2-core machine takes seconds.
const SLOW = 60_000;

describe(`zstdDecompress (here: ${zstdDecoder})`, () => {
  for (const forceLibrary of [false, true]) {
    it(
      `${forceLibrary ? 'fzstd' : 'the default decoder'}: decodes zstd -19 output fed in odd-sized chunks`,
      async () => {
        // Buffer.equals: vitest's deep equality walks megabytes byte by byte.
        expect((await collect(zstdDecompress(chunked(packed(), 7001), { forceLibrary }))).equals(data)).toBe(true);
        expect((await collect(zstdDecompress(chunked(packed(), 1 << 20), { forceLibrary }))).equals(data)).toBe(true);
      },
      SLOW,
    );
  }

  it(
    'streams: the first output arrives long before the input is consumed (bounded memory)',
    async () => {
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
    },
    SLOW,
  );

  for (const forceLibrary of [false, true]) {
    it(
      `${forceLibrary ? 'fzstd' : 'the default decoder'}: decodes concatenated frames; a truncated stream or garbage throws`,
      async () => {
        const a = Buffer.from('first frame\n'.repeat(1000));
        const b = randomBytes(5000);
        expect(
          (await collect(zstdDecompress(chunked(Buffer.concat([zstd(a), skippable, zstd(b)]), 4096), { forceLibrary }))).equals(
            Buffer.concat([a, b]),
          ),
        ).toBe(true);
        const whole = packed();
        await expect(collect(zstdDecompress(chunked(whole.subarray(0, whole.length - 100), 65536), { forceLibrary }))).rejects.toThrow();
        await expect(collect(zstdDecompress(chunked(randomBytes(4096), 1024), { forceLibrary }))).rejects.toThrow();
        await expect(collect(zstdDecompress(chunked(Buffer.alloc(0), 1), { forceLibrary }))).rejects.toThrow(/empty/);
      },
      SLOW,
    );
  }
});

describe('zstdFramePieces', () => {
  it('passes every byte through unchanged and marks each frame end, dropping skippable frames', async () => {
    const a = zstd(Buffer.from('a'.repeat(100_000)));
    const b = zstd(randomBytes(300_000), 1);
    const pieces: (Buffer | null)[] = [];
    for await (const p of zstdFramePieces(chunked(Buffer.concat([a, skippable, b]), 999))) pieces.push(p);
    const frames: Buffer[] = [];
    let current: Buffer[] = [];
    for (const p of pieces) {
      if (p === null) {
        frames.push(Buffer.concat(current));
        current = [];
      } else current.push(p);
    }
    expect(current).toEqual([]);
    expect(frames.length).toBe(2);
    expect(frames[0]!.equals(a)).toBe(true);
    expect(frames[1]!.equals(b)).toBe(true);
  });
  it('throws on a truncated frame and on bytes that are not zstd', async () => {
    const a = zstd(randomBytes(200_000), 1);
    const drain = async (buf: Buffer) => {
      for await (const _ of zstdFramePieces(chunked(buf, 4096))) {
        // consume
      }
    };
    await expect(drain(a.subarray(0, a.length - 10))).rejects.toThrow(/truncated/);
    await expect(drain(Buffer.concat([a, Buffer.from('garbage!')]))).rejects.toThrow(/not a zstd frame/);
  });
});
