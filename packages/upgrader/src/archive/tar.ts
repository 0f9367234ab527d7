import { ByteReader } from './byte-reader.js';

/**
 * A small tar reader/writer of our own (ustar + pax + GNU long names). We want to *see* every
 * header as it is (type, raw name, link target) and refuse, where general-purpose extractors
 * sanitise ("strip leading /", "skip ..") and write as they go. Reading is a pure function of
 * the stream, so the same code validates (pass 1, nothing written) and extracts (pass 2).
 */

export type RawEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'device' | 'fifo' | 'other';

export interface RawEntry {
  /** Name as stored (leading "./" kept; the caller normalises). */
  name: string;
  type: RawEntryType;
  /** Raw type flag / description for messages. */
  typeLabel: string;
  size: number;
  mode: number;
  linkname: string;
}

export class ArchiveFormatError extends Error {}

const BLOCK = 512;

function cstr(buf: Buffer, start: number, len: number): string {
  const slice = buf.subarray(start, start + len);
  const nul = slice.indexOf(0);
  return (nul === -1 ? slice : slice.subarray(0, nul)).toString('utf8');
}

function octal(buf: Buffer, start: number, len: number, field: string): number {
  const slice = buf.subarray(start, start + len);
  if (slice[0]! & 0x80) {
    // GNU base-256 for big numbers.
    let v = 0;
    for (let i = 1; i < slice.length; i++) v = v * 256 + slice[i]!;
    if (slice[0]! !== 0x80 || !Number.isSafeInteger(v)) throw new ArchiveFormatError(`tar header: ${field} out of range`);
    return v;
  }
  const s = cstr(buf, start, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new ArchiveFormatError(`tar header: ${field} is not octal ("${s}")`);
  return parseInt(s, 8);
}

function checksumOk(h: Buffer): boolean {
  const stored = octal(h, 148, 8, 'checksum');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
  return sum === stored;
}

function typeOf(flag: string): { type: RawEntryType; label: string } {
  switch (flag) {
    case '0':
    case '\0':
    case '':
      return { type: 'file', label: 'file' };
    case '5':
      return { type: 'dir', label: 'directory' };
    case '2':
      return { type: 'symlink', label: 'symlink' };
    case '1':
      return { type: 'hardlink', label: 'hardlink' };
    case '3':
      return { type: 'device', label: 'character device' };
    case '4':
      return { type: 'device', label: 'block device' };
    case '6':
      return { type: 'fifo', label: 'fifo' };
    default:
      return { type: 'other', label: `tar type "${flag}"` };
  }
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const sp = data.indexOf(0x20, pos);
    if (sp === -1) throw new ArchiveFormatError('pax header: malformed record');
    const len = parseInt(data.subarray(pos, sp).toString('ascii'), 10);
    if (!Number.isSafeInteger(len) || len <= sp - pos || pos + len > data.length)
      throw new ArchiveFormatError('pax header: bad record length');
    const rec = data.subarray(sp + 1, pos + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq === -1) throw new ArchiveFormatError('pax header: record without "="');
    out[rec.slice(0, eq)] = rec.slice(eq + 1);
    pos += len;
  }
  return out;
}

const MAX_META = 1024 * 1024;

/**
 * Walks a tar stream. For each entry, `visit` gets the header and its body as chunks; what it
 * does not consume is skipped. Throws ArchiveFormatError on corruption or truncation (a stream
 * that ends without the end-of-archive blocks counts as truncated).
 */
export async function walkTar(
  source: AsyncIterable<Buffer>,
  visit: (entry: RawEntry, body: AsyncGenerator<Buffer>) => Promise<void>,
): Promise<void> {
  const r = new ByteReader(source);
  try {
    let pax: Record<string, string> = {};
    let longName: string | undefined;
    let longLink: string | undefined;
    for (;;) {
      const h = await r.read(BLOCK);
      if (h.length < BLOCK)
        throw new ArchiveFormatError(`truncated tar: stream ended at byte ${r.offset} without the end-of-archive marker`);
      if (h.every((b) => b === 0)) return;
      if (!checksumOk(h)) throw new ArchiveFormatError(`corrupt tar: bad header checksum at byte ${r.offset - BLOCK}`);
      const flag = String.fromCharCode(h[156]!).replace('\0', '');
      let size = octal(h, 124, 12, 'size');
      const readMeta = async (): Promise<Buffer> => {
        if (size > MAX_META) throw new ArchiveFormatError(`tar: metadata header of ${size} bytes is too large`);
        const data = await r.read(size);
        if (data.length < size) throw new ArchiveFormatError('truncated tar: inside a metadata header');
        await r.read((BLOCK - (size % BLOCK)) % BLOCK);
        return data;
      };
      if (flag === 'x') {
        pax = { ...pax, ...parsePax(await readMeta()) };
        continue;
      }
      if (flag === 'g') {
        await readMeta();
        continue;
      }
      if (flag === 'L' || flag === 'K') {
        const v = cstr(await readMeta(), 0, MAX_META);
        if (flag === 'L') longName = v;
        else longLink = v;
        continue;
      }
      const magic = h.subarray(257, 263).toString('latin1');
      let name = cstr(h, 0, 100);
      if (magic === 'ustar\0') {
        const prefix = cstr(h, 345, 155);
        if (prefix) name = `${prefix}/${name}`;
      }
      if (longName !== undefined) name = longName;
      if (pax.path !== undefined) name = pax.path;
      let linkname = longLink ?? cstr(h, 157, 100);
      if (pax.linkpath !== undefined) linkname = pax.linkpath;
      if (pax.size !== undefined) {
        if (!/^\d+$/.test(pax.size)) throw new ArchiveFormatError(`tar: pax size "${pax.size}" is not a number`);
        size = Number(pax.size);
      }
      pax = {};
      longName = undefined;
      longLink = undefined;
      const { type, label } = typeOf(flag);
      // Only regular files carry data that counts; other types' size is still skipped exactly.
      const entry: RawEntry = { name, type, typeLabel: label, size, mode: octal(h, 100, 8, 'mode'), linkname };
      let consumed = 0;
      const body = (async function* () {
        for await (const c of r.chunksOf(size)) {
          consumed += c.length;
          yield c;
        }
      })();
      await visit(entry, body);
      // Drain what the visitor left.
      for await (const c of r.chunksOf(size - consumed)) consumed += c.length;
      if (consumed < size)
        throw new ArchiveFormatError(`truncated tar: "${name}" declares ${size} bytes, the stream ended after ${consumed}`);
      const pad = (BLOCK - (size % BLOCK)) % BLOCK;
      if ((await r.read(pad)).length < pad) throw new ArchiveFormatError(`truncated tar: after "${name}"`);
    }
  } finally {
    await r.close();
  }
}

// ---------------------------------------------------------------- writer

export interface TarWriteEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  mode: number;
  size: number;
  linkname?: string;
  /** File content; read lazily so large packages stream. */
  content?: () => AsyncIterable<Buffer>;
}

/** Fixed timestamp (2000-01-01T00:00:00Z) so archives are reproducible. */
export const FIXED_MTIME = 946_684_800;

function writeOctal(h: Buffer, value: number, start: number, len: number): void {
  h.write(`${value.toString(8).padStart(len - 1, '0')}\0`, start, len, 'ascii');
}

function header(name: string, type: string, size: number, mode: number, linkname: string, prefix = ''): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  writeOctal(h, mode & 0o7777, 100, 8);
  writeOctal(h, 0, 108, 8);
  writeOctal(h, 0, 116, 8);
  writeOctal(h, size, 124, 12);
  writeOctal(h, FIXED_MTIME, 136, 12);
  h.write(type, 156, 1, 'ascii');
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 6, 'latin1');
  h.write('00', 263, 2, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i]!;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return h;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

function splitUstar(path: string): { name: string; prefix: string } | null {
  if (Buffer.byteLength(path) <= 100) return { name: path, prefix: '' };
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name.length > 0) return { name, prefix };
  }
  return null;
}

/** Serialises entries in the order given (the caller sorts) as a ustar stream, pax for long names. */
export async function* tarStream(entries: Iterable<TarWriteEntry>): AsyncGenerator<Buffer> {
  for (const e of entries) {
    const flag = e.type === 'file' ? '0' : e.type === 'dir' ? '5' : '2';
    const name = e.type === 'dir' && !e.path.endsWith('/') ? `${e.path}/` : e.path;
    const size = e.type === 'file' ? e.size : 0;
    const link = e.linkname ?? '';
    let split = splitUstar(name);
    const needsPax = split === null || Buffer.byteLength(link) > 100;
    if (needsPax) {
      const records = Buffer.from(paxRecord('path', name) + (Buffer.byteLength(link) > 100 ? paxRecord('linkpath', link) : ''), 'utf8');
      yield header('PaxHeader', 'x', records.length, 0o644, '');
      yield records;
      yield padding(records.length);
      split = { name: name.slice(0, 99), prefix: '' };
    }
    yield header(split!.name, flag, size, e.mode, link.slice(0, 100), split!.prefix);
    if (e.type === 'file') {
      let written = 0;
      if (e.content) {
        for await (const c of e.content()) {
          written += c.length;
          if (written > size) throw new Error(`${e.path} grew while it was being packed`);
          yield c;
        }
      }
      if (written !== size) throw new Error(`${e.path} changed size while it was being packed (${written} of ${size} bytes)`);
      yield padding(size);
    }
  }
  yield Buffer.alloc(BLOCK * 2);
}
