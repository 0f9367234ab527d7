import { createReadStream } from 'node:fs';
import { lstat, open, readlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createGunzip } from 'node:zlib';
import { errors } from '@llm-upgrade/core';
import { ArchiveFormatError, walkTar, type RawEntry } from '../archive/tar.js';
import { walkZip } from '../archive/zip.js';

export type Visit = (entry: RawEntry, body: AsyncGenerator<Buffer>) => Promise<void>;

/** A package as a sequence of raw entries, readable more than once (validate, then stage). */
export interface PackageSource {
  kind: 'tar' | 'zip' | 'dir';
  path: string;
  walk(visit: Visit): Promise<void>;
}

async function* gunzipped(path: string): AsyncGenerator<Buffer> {
  const fh = await open(path, 'r');
  const head = Buffer.alloc(2);
  await fh.read(head, 0, 2, 0);
  await fh.close();
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  const stream = head[0] === 0x1f && head[1] === 0x8b ? file.pipe(createGunzip({ chunkSize: 1 << 20 })) : file;
  file.on('error', (e) => stream.destroy(e));
  try {
    for await (const c of stream) yield c as Buffer;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code?.startsWith('Z_') || /unexpected end|incorrect header|invalid/.test((e as Error).message)) {
      throw new ArchiveFormatError(`corrupt or truncated gzip stream: ${(e as Error).message}`);
    }
    throw e;
  } finally {
    file.destroy();
    stream.destroy();
  }
}

function dirSource(root: string): PackageSource {
  const walkDir = async (visit: Visit, rel: string): Promise<void> => {
    const { readdir } = await import('node:fs/promises');
    const names = (await readdir(rel ? join(root, rel) : root)).sort();
    for (const name of names) {
      const relPath = rel ? `${rel}/${name}` : name;
      const full = join(root, relPath);
      const st = await lstat(full);
      const base = { name: relPath, mode: st.mode & 0o7777, linkname: '' };
      if (st.isDirectory()) {
        await visit({ ...base, name: `${relPath}/`, type: 'dir', typeLabel: 'directory', size: 0 }, (async function* () {})());
        await walkDir(visit, relPath);
      } else if (st.isSymbolicLink()) {
        await visit({ ...base, type: 'symlink', typeLabel: 'symlink', size: 0, linkname: await readlink(full) }, (async function* () {})());
      } else if (st.isFile()) {
        const stream = createReadStream(full, { highWaterMark: 1 << 20 });
        const body = (async function* () {
          try {
            for await (const c of stream) yield c as Buffer;
          } finally {
            stream.destroy();
          }
        })();
        await visit({ ...base, type: 'file', typeLabel: 'file', size: st.size }, body);
        await body.return(undefined);
      } else {
        const label = st.isFIFO() ? 'fifo' : st.isSocket() ? 'socket' : 'device';
        await visit({ ...base, type: st.isFIFO() ? 'fifo' : 'device', typeLabel: label, size: 0 }, (async function* () {})());
      }
    }
  };
  return { kind: 'dir', path: root, walk: (visit) => walkDir(visit, '') };
}

/** A local package: a directory, a .tar.gz/.tgz/.tar or a .zip (by extension, then by magic bytes). */
export async function openSource(path: string): Promise<PackageSource> {
  const abs = resolve(path);
  let st;
  try {
    st = await lstat(abs);
  } catch (e) {
    throw errors.badPackageError({
      message: `package ${abs} not found (${(e as NodeJS.ErrnoException).code})`,
      hint: 'Give the path of a .tar.gz, .zip or directory made by `llm-upgrade pack`.',
      phase: 'fetch',
      changed: false,
    });
  }
  if (st.isDirectory()) return dirSource(abs);
  if (!st.isFile())
    throw errors.badPackageError({
      message: `package ${abs} is not a file or directory`,
      hint: 'Give the path of a .tar.gz, .zip or directory.',
      phase: 'fetch',
      changed: false,
    });
  const fh = await open(abs, 'r');
  const magic = Buffer.alloc(512);
  const { bytesRead } = await fh.read(magic, 0, 512, 0);
  await fh.close();
  const isZip = magic.readUInt32LE(0) === 0x04034b50 || magic.readUInt32LE(0) === 0x06054b50 || /\.zip$/i.test(abs);
  if (isZip) return { kind: 'zip', path: abs, walk: (visit) => walkZip(abs, visit) };
  const isGzip = magic[0] === 0x1f && magic[1] === 0x8b;
  if (!isGzip && !(bytesRead === 512 && looksLikeTarHeader(magic))) {
    // A text file or anything else: say so, rather than "truncated tar" from the tar reader.
    throw errors.badPackageError({
      message: `${abs} is not a package (expected .tar.gz, .tgz, .zip or a directory)`,
      hint: 'Give the path of a package made by `llm-upgrade pack`.',
      phase: 'fetch',
      changed: false,
    });
  }
  return { kind: 'tar', path: abs, walk: (visit) => walkTar(gunzipped(abs), visit) };
}

/** A ustar/GNU magic, or (old v7 tars) a header whose checksum adds up. */
function looksLikeTarHeader(h: Buffer): boolean {
  if (h.toString('latin1', 257, 262) === 'ustar') return true;
  const stored = parseInt(h.toString('latin1', 148, 156).replace(/\0.*$/, '').trim(), 8);
  if (!Number.isFinite(stored)) return false;
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  return sum === stored;
}
