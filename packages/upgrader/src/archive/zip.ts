import yauzl from 'yauzl';
import yazl from 'yazl';
import { createWriteStream } from 'node:fs';
import { PassThrough, Readable } from 'node:stream';
import { ArchiveFormatError, FIXED_MTIME, type RawEntry, type TarWriteEntry } from './tar.js';

/**
 * Zip goes through yauzl (read) and yazl (write): zip needs random access to the central
 * directory, zip64 and the DOS/Unix attribute dance, which these small, dependency-free
 * libraries get right. yauzl is used with decodeStrings:false so it never "fixes" a name for
 * us: every raw name reaches our own path checks, exactly as for tar.
 */

const S_IFMT = 0o170000;

function typeOf(e: yauzl.Entry, name: string): { type: RawEntry['type']; label: string } {
  const unixMode = (e.externalFileAttributes >>> 16) & 0xffff;
  const fmt = unixMode & S_IFMT;
  if (e.isEncrypted()) return { type: 'other', label: 'encrypted entry' };
  if (fmt === 0o120000) return { type: 'symlink', label: 'symlink' };
  if (fmt === 0o040000 || name.endsWith('/')) return { type: 'dir', label: 'directory' };
  if (fmt === 0o020000 || fmt === 0o060000) return { type: 'device', label: 'device' };
  if (fmt === 0o010000) return { type: 'fifo', label: 'fifo' };
  if (fmt === 0o140000) return { type: 'other', label: 'socket' };
  return { type: 'file', label: 'file' };
}

function openZip(path: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true, decodeStrings: false, validateEntrySizes: true, autoClose: true }, (err, zf) => {
      if (err) reject(new ArchiveFormatError(`corrupt or truncated zip: ${err.message}`));
      else resolve(zf);
    });
  });
}

function openEntry(zf: yauzl.ZipFile, e: yauzl.Entry): Promise<Readable> {
  return new Promise((resolve, reject) => {
    zf.openReadStream(e, (err, s) => (err ? reject(new ArchiveFormatError(`corrupt zip entry: ${err.message}`)) : resolve(s)));
  });
}

async function* guarded(stream: Readable): AsyncGenerator<Buffer> {
  // Iterate a pass-through, never yauzl's own stream: an async iterator destroys its stream at
  // the end, and destroying yauzl's stored-entry stream drops its shared fd (later entries hang).
  const pass = new PassThrough();
  let failure: Error | undefined;
  stream.on('error', (e) => {
    failure = e;
    pass.destroy(e);
  });
  stream.pipe(pass);
  let ended = false;
  try {
    for await (const c of pass) yield c as Buffer;
    ended = true;
  } catch (e) {
    throw new ArchiveFormatError(`corrupt zip data: ${(failure ?? (e as Error)).message}`);
  } finally {
    if (!ended) {
      stream.unpipe(pass);
      stream.destroy();
    }
  }
}

/** Same contract as walkTar: every entry in central-directory order, body as chunks. */
export async function walkZip(path: string, visit: (entry: RawEntry, body: AsyncGenerator<Buffer>) => Promise<void>): Promise<void> {
  const zf = await openZip(path);
  try {
    await new Promise<void>((resolve, reject) => {
      zf.on('error', (err: Error) =>
        reject(err instanceof ArchiveFormatError ? err : new ArchiveFormatError(`corrupt zip: ${err.message}`)),
      );
      zf.on('end', () => resolve());
      zf.on('entry', (e: yauzl.Entry) => {
        const name = (e.fileName as unknown as Buffer).toString('utf8');
        const { type, label } = typeOf(e, name);
        const mode = (e.externalFileAttributes >>> 16) & 0o7777 || 0o644;
        const raw: RawEntry = { name, type, typeLabel: label, size: e.uncompressedSize, mode, linkname: '' };
        const run = async () => {
          if (type === 'symlink') {
            const chunks: Buffer[] = [];
            for await (const c of guarded(await openEntry(zf, e))) chunks.push(c);
            raw.linkname = Buffer.concat(chunks).toString('utf8');
            await visit(raw, (async function* () {})());
          } else if (type === 'file') {
            const stream = await openEntry(zf, e);
            const body = guarded(stream);
            await visit(raw, body);
            await body.return(undefined);
          } else {
            await visit(raw, (async function* () {})());
          }
        };
        run().then(() => zf.readEntry(), reject);
      });
      zf.readEntry();
    });
  } finally {
    zf.close();
  }
}

/** Writes entries (sorted by the caller) as a deterministic zip: fixed mtime, Unix modes, links as S_IFLNK. */
export async function writeZip(
  entries: TarWriteEntry[],
  out: string,
  readFileChunks: (e: TarWriteEntry) => AsyncIterable<Buffer>,
): Promise<void> {
  const zip = new yazl.ZipFile();
  const mtime = new Date(FIXED_MTIME * 1000);
  for (const e of entries) {
    if (e.type === 'dir') zip.addEmptyDirectory(e.path, { mtime, mode: 0o040000 | (e.mode & 0o777) });
    else if (e.type === 'symlink')
      zip.addBuffer(Buffer.from(e.linkname ?? '', 'utf8'), e.path, { mtime, mode: 0o120000 | 0o777, compress: false });
    else {
      const chunks = readFileChunks(e);
      zip.addReadStreamLazy(e.path, { mtime, mode: 0o100000 | (e.mode & 0o777), size: e.size }, (cb) => cb(null, Readable.from(chunks)));
    }
  }
  zip.end();
  await new Promise<void>((resolve, reject) => {
    const ws = createWriteStream(out);
    ws.on('error', reject);
    ws.on('close', () => resolve());
    zip.outputStream.on('error', reject);
    zip.outputStream.pipe(ws);
  });
}
