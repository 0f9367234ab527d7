import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';

/** Raw tar building for hostile archives: any name, any type flag, sizes that lie. */
export interface CraftEntry {
  name: string;
  /** tar type flag: '0' file, '1' hardlink, '2' symlink, '3' char dev, '4' block dev, '5' dir, '6' fifo */
  type?: string;
  content?: Buffer | string;
  linkname?: string;
  mode?: number;
}

function octal(h: Buffer, v: number, start: number, len: number) {
  h.write(`${v.toString(8).padStart(len - 1, '0')}\0`, start, len, 'ascii');
}

export function tarHeader(e: CraftEntry, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(e.name, 0, 100, 'utf8');
  octal(h, e.mode ?? 0o644, 100, 8);
  octal(h, 0, 108, 8);
  octal(h, 0, 116, 8);
  octal(h, size, 124, 12);
  octal(h, 946684800, 136, 12);
  h.write(e.type ?? '0', 156, 1, 'ascii');
  h.write(e.linkname ?? '', 157, 100, 'utf8');
  h.write('ustar\0', 257, 6, 'latin1');
  h.write('00', 263, 2, 'ascii');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return h;
}

export function rawTar(entries: CraftEntry[], opts: { end?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = Buffer.from(e.content ?? '');
    parts.push(tarHeader(e, body.length), body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  if (opts.end !== false) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

export interface CraftFile {
  path: string;
  content: string | Buffer;
  mode?: number;
}

/** A manifest for files (sizes and hashes true unless the caller edits the result). */
export function manifestFor(version: string, files: CraftFile[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'tool',
    version,
    platform: `${process.platform}-${process.arch}`,
    files: files.map((f) => ({ path: f.path, size: Buffer.byteLength(f.content), sha256: sha256(f.content), mode: f.mode ?? 0o644 })),
    ...extra,
  };
}

export async function writeTarGz(path: string, entries: CraftEntry[], opts: { end?: boolean } = {}): Promise<void> {
  await writeFile(path, gzipSync(rawTar(entries, opts)));
}

export function manifestEntry(manifest: unknown): CraftEntry {
  return { name: 'llm-upgrade.json', content: `${JSON.stringify(manifest, null, 2)}\n` };
}

import { crc32 } from 'node:zlib';

export interface ZipCraftEntry {
  name: string;
  content?: Buffer | string;
  /** Unix mode including the type bits (0o100644 file, 0o120777 symlink, 0o020644 char device). */
  mode?: number;
}

/** A stored (uncompressed) zip with exactly the names and modes given. */
export function rawZip(entries: ZipCraftEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const data = Buffer.from(e.content ?? '');
    const crc = crc32(data);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(0x0800, 6);
    lh.writeUInt16LE(0, 8);
    lh.writeUInt16LE(0, 10);
    lh.writeUInt16LE(0x2821, 12);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(data.length, 18);
    lh.writeUInt32LE(data.length, 22);
    lh.writeUInt16LE(name.length, 26);
    lh.writeUInt16LE(0, 28);
    locals.push(lh, name, data);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE((3 << 8) | 20, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(0x0800, 8);
    ch.writeUInt16LE(0, 10);
    ch.writeUInt16LE(0, 12);
    ch.writeUInt16LE(0x2821, 14);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(data.length, 20);
    ch.writeUInt32LE(data.length, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(((e.mode ?? 0o100644) << 16) >>> 0, 38);
    ch.writeUInt32LE(offset, 42);
    centrals.push(ch, name);
    offset += 30 + name.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}
