import { ByteReader } from '../archive/byte-reader.js';

/**
 * The bytes of a zstd stream, unchanged, with `null` after each frame's last byte (RFC 8878
 * §3.1: frame header, block headers, optional checksum; skippable frames are dropped). Node's
 * zlib zstd decoder stops at the end of the first frame and ignores the rest silently, while
 * `pzstd` or `cat a.zst b.zst` make several frames: a fresh decoder per frame reads them all.
 */
export async function* zstdFramePieces(input: AsyncIterable<Buffer>): AsyncGenerator<Buffer | null> {
  const r = new ByteReader(input);
  const exactly = async (n: number, what: string) => {
    const b = await r.read(n);
    if (b.length < n) throw new Error(`truncated zstd stream (in ${what} at byte ${r.offset})`);
    return b;
  };
  const pass = async function* (n: number, what: string): AsyncGenerator<Buffer> {
    let seen = 0;
    for await (const c of r.chunksOf(n)) {
      seen += c.length;
      yield c;
    }
    if (seen < n) throw new Error(`truncated zstd stream (in ${what} at byte ${r.offset})`);
  };
  try {
    for (let frames = 0; ; frames++) {
      const magicBytes = await r.read(4);
      if (magicBytes.length === 0) {
        if (frames === 0) throw new Error('empty zstd stream');
        return;
      }
      if (magicBytes.length < 4) throw new Error(`truncated zstd stream (a frame magic at byte ${r.offset})`);
      const magic = magicBytes.readUInt32LE(0);
      if ((magic & 0xfffffff0) === 0x184d2a50) {
        const size = (await exactly(4, 'a skippable frame')).readUInt32LE(0);
        for await (const _ of pass(size, 'a skippable frame')) {
          // skipped
        }
        continue;
      }
      if (magic !== 0xfd2fb528) throw new Error(`not a zstd frame at byte ${r.offset - 4}`);
      const fhd = (await exactly(1, 'a frame header'))[0]!;
      const single = (fhd >> 5) & 1;
      const rest = (single ? 0 : 1) + [0, 1, 2, 4][fhd & 3]! + [single ? 1 : 0, 2, 4, 8][fhd >> 6]!;
      yield Buffer.concat([magicBytes, Buffer.from([fhd]), await exactly(rest, 'a frame header')]);
      for (let last = false; !last; ) {
        const bh = await exactly(3, 'a block header');
        yield bh;
        const v = bh[0]! | (bh[1]! << 8) | (bh[2]! << 16);
        last = (v & 1) === 1;
        const type = (v >> 1) & 3;
        if (type === 3) throw new Error(`reserved zstd block type at byte ${r.offset - 3}`);
        yield* pass(type === 1 ? 1 : v >>> 3, 'a block');
      }
      if ((fhd >> 2) & 1) yield await exactly(4, 'a frame checksum');
      yield null;
    }
  } finally {
    await r.close();
  }
}
