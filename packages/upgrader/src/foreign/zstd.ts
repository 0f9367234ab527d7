import type { Transform } from 'node:stream';
import * as zlib from 'node:zlib';
import { zstdFramePieces } from './zstd-frames.js';

/** zlib's zstd (Node ≥ 22.15, 23.8), absent on older Node. */
type ZstdFactory = (opts?: { chunkSize?: number }) => Transform;
const nativeZstd = (zlib as unknown as { createZstdDecompress?: ZstdFactory }).createZstdDecompress;

/** Which decoder zstdDecompress uses here: Node's own, or the fzstd library on older Node. */
export const zstdDecoder: 'node:zlib' | 'fzstd' = nativeZstd ? 'node:zlib' : 'fzstd';

/**
 * Decompresses a zstd stream chunk by chunk (bounded memory: the decoder's window plus one
 * block). A truncated or corrupt stream throws.
 */
export async function* zstdDecompress(input: AsyncIterable<Buffer>, opts: { forceLibrary?: boolean } = {}): AsyncGenerator<Buffer> {
  if (nativeZstd && !opts.forceLibrary) {
    yield* nativeFrames(input, nativeZstd);
    return;
  }
  const { Decompress } = await import('fzstd');
  const out: Buffer[] = [];
  // fzstd may hand out views of its input: copy each block before the next push reuses memory.
  const d = new Decompress((chunk) => {
    if (chunk.length > 0) out.push(Buffer.from(chunk));
  });
  let any = false;
  for await (const c of input) {
    if (c.length === 0) continue;
    any = true;
    d.push(c);
    while (out.length > 0) yield out.shift()!;
  }
  if (!any) throw new Error('empty zstd stream');
  d.push(new Uint8Array(0), true);
  while (out.length > 0) yield out.shift()!;
}

/** Node's decoder, one per frame (it ends at the first frame's end): output in order, bounded by the stream's buffers. */
async function* nativeFrames(input: AsyncIterable<Buffer>, factory: ZstdFactory): AsyncGenerator<Buffer> {
  let decoder: Transform | null = null;
  const out: Buffer[] = [];
  let failure: Error | null = null;
  let wake: (() => void) | null = null;
  const notify = () => {
    wake?.();
    wake = null;
  };
  const open = () => {
    const d = factory({ chunkSize: 1 << 20 });
    d.on('data', (c: Buffer) => {
      out.push(c);
      notify();
    });
    d.on('error', (e: Error) => {
      failure = e;
      notify();
    });
    return d;
  };
  const drain = function* () {
    while (out.length > 0) yield out.shift()!;
  };
  const waitWritable = (d: Transform) => new Promise<void>((resolve) => (d.writableNeedDrain ? d.once('drain', resolve) : resolve()));
  try {
    for await (const piece of zstdFramePieces(input)) {
      if (failure) throw failure;
      if (piece === null) {
        const d = decoder!;
        decoder = null;
        await new Promise<void>((resolve, reject) => {
          d.once('end', resolve);
          d.once('error', reject);
          d.end();
          d.resume();
        }).catch((e: Error) => {
          throw e;
        });
        yield* drain();
        continue;
      }
      decoder ??= open();
      const ok = decoder.write(piece);
      yield* drain();
      if (!ok) {
        // Let the decoder's output flow before writing more: memory stays at its buffers.
        while (decoder.writableNeedDrain && !failure) {
          await Promise.race([waitWritable(decoder), new Promise<void>((resolve) => (wake = resolve))]);
          yield* drain();
        }
      }
    }
    if (failure) throw failure;
    if (decoder) throw new Error('truncated zstd stream (a frame without its last block)');
  } finally {
    (decoder as Transform | null)?.destroy();
  }
}
