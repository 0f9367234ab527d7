import { Readable, type Transform } from 'node:stream';
import * as zlib from 'node:zlib';

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
    const stream = Readable.from(input).pipe(nativeZstd({ chunkSize: 1 << 20 }));
    try {
      for await (const c of stream) yield c as Buffer;
    } finally {
      stream.destroy();
    }
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
