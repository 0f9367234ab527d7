import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, lstat, open, symlink, unlink } from 'node:fs/promises';
import { basename, dirname, join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { LlmUpgradeError, toLlmUpgradeError, errors } from '@llm-upgrade/core';
import { walkTar, type RawEntry } from '../archive/tar.js';
import { walkZip } from '../archive/zip.js';
import { fsyncDir, mkdirp, removeTree } from '../fsutil.js';
import { placeInUnits } from '../layout.js';
import { unsafeEntryError, type ManifestFile, type ManifestLink } from '../manifest.js';
import { collisionKey } from '../paths.js';
import { checkRawEntry, corruptError } from '../source/verify.js';
import { zstdDecompress } from './zstd.js';

/** One archive to lay onto the install, with the digests it must match (a checksum line, a release's `digest`). */
export interface ForeignArchive {
  /** Local file (downloads are fetched first). */
  path: string;
  /** The asset's file name, as the checksum file and the messages name it. */
  name: string;
  /** Expected SHA-256 digests (hex) with where each came from; every one must match. */
  expected: { sha256: string; from: string }[];
}

export interface StagedTree {
  files: ManifestFile[];
  links: ManifestLink[];
  bytes: number;
}

export interface ForeignStageProgress {
  archive: string;
  /** Compressed bytes of this archive read so far. */
  readBytes: number;
  totalBytes: number;
  /** Files staged so far (all archives). */
  files: number;
}

type Format = 'tar.zst' | 'tar.gz' | 'tar' | 'zip';

async function formatOf(path: string, name: string): Promise<Format> {
  const fh = await open(path, 'r');
  const head = Buffer.alloc(512);
  const { bytesRead } = await fh.read(head, 0, 512, 0);
  await fh.close();
  if (bytesRead >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'tar.zst';
  if (bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz';
  if (bytesRead >= 4 && (head.readUInt32LE(0) === 0x04034b50 || head.readUInt32LE(0) === 0x06054b50)) return 'zip';
  if (bytesRead === 512 && head.toString('latin1', 257, 262) === 'ustar') return 'tar';
  throw errors.badPackageError({
    message: `${name} (${path}) is not a .tar.zst, .tgz/.tar.gz, .tar or .zip archive`,
    hint: 'Give the release archives themselves (e.g. ollama-linux-amd64.tar.zst).',
    phase: 'verify',
    changed: false,
    details: { archive: name },
  });
}

function checksumError(a: ForeignArchive, got: string, want: { sha256: string; from: string }): LlmUpgradeError {
  return errors.badChecksumError({
    message: `${a.name}: SHA-256 ${got} differs from ${want.sha256} (${want.from})`,
    hint: 'The archive is damaged or was altered; download it again. Nothing was installed.',
    phase: 'verify',
    changed: false,
    details: { archive: a.name, path: a.path, sha256: got, expectedSha256: want.sha256, expectedFrom: want.from },
  });
}

/**
 * The raw bytes of a file, hashed as they pass (so verifying costs no second read). Chunks are
 * hashed in order by one generator at a time; `finish` ends the reader's generator (which may
 * be suspended: tar stops at its end-of-archive marker) and hashes the rest of the file.
 */
class HashedRead {
  private readonly hash: Hash = createHash('sha256');
  private bytes = 0;
  private active: AsyncGenerator<Buffer> | null = null;
  constructor(readonly path: string) {}

  stream(onBytes?: (n: number) => void): AsyncGenerator<Buffer> {
    this.active = this.chunks(onBytes);
    return this.active;
  }

  private async *chunks(onBytes?: (n: number) => void): AsyncGenerator<Buffer> {
    const stream = createReadStream(this.path, { highWaterMark: 1 << 20, start: this.bytes });
    try {
      for await (const c of stream) {
        this.hash.update(c as Buffer);
        this.bytes += (c as Buffer).length;
        onBytes?.(this.bytes);
        yield c as Buffer;
      }
    } finally {
      stream.destroy();
    }
  }

  async finish(): Promise<string> {
    if (this.active) await this.active.return(undefined);
    this.active = null;
    for await (const _ of this.chunks()) {
      // hashed by chunks()
    }
    return this.hash.digest('hex');
  }
}

async function* gunzip(input: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const source = Readable.from(input);
  const stream = source.pipe(createGunzip({ chunkSize: 1 << 20 }));
  source.on('error', (e) => stream.destroy(e));
  try {
    for await (const c of stream) yield c as Buffer;
  } finally {
    stream.destroy();
    source.destroy();
  }
}

function decompressed(format: Format, raw: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  if (format === 'tar.zst') return zstdDecompress(raw);
  if (format === 'tar.gz') return gunzip(raw);
  return raw;
}

/** What the archive reader threw, once the bytes are known to be the expected ones: a system error (disk full…) as it is, anything else a corrupt archive. */
function readerError(name: string, e: unknown): unknown {
  if (e instanceof LlmUpgradeError || (e as NodeJS.ErrnoException)?.syscall !== undefined) return e;
  return corruptError(name, e);
}

/**
 * Lays several archives (base first, add-ons after) onto a fresh staging directory in one pass
 * each, hashing every archive while it is read: an archive whose SHA-256 differs from any of
 * its expected digests, or that holds a hostile entry (the same rules as our own packages, plus:
 * with `units`, every entry must lie inside one of the install's roots), fails the whole
 * stage and staging is removed. A later archive may replace a file an earlier one staged
 * (an overlay); nothing may live below a link. Returns the verified tree: the manifest to record.
 */
export async function stageForeignArchives(
  archives: ForeignArchive[],
  staging: string,
  opts: { units: readonly string[] | null; onProgress?: (p: ForeignStageProgress) => void },
): Promise<StagedTree> {
  const files = new Map<string, ManifestFile & { archive: string }>();
  const links = new Map<string, ManifestLink & { archive: string }>();
  const dirs = new Set<string>();
  const keys = new Map<string, string>();
  const syncDirs = new Set<string>([staging]);
  let bytes = 0;

  const refuse = (a: ForeignArchive, name: string, reason: string) => {
    const e = unsafeEntryError(name, reason);
    return new LlmUpgradeError({
      code: e.code,
      message: `${a.name}: ${e.message}`,
      hint: e.hint,
      phase: 'verify',
      changed: false,
      details: { ...(e.details ?? {}), archive: a.name },
    });
  };

  const visitFor =
    (a: ForeignArchive, seenHere: Set<string>) =>
    async (raw: RawEntry, body: AsyncGenerator<Buffer>): Promise<void> => {
      const name = checkRawEntry(raw);
      if (name === null) return;
      if (opts.units) {
        const place = placeInUnits(name, opts.units);
        if (place === 'outside' || (place === 'above' && raw.type !== 'dir')) {
          throw refuse(
            a,
            name,
            `lies outside the install's roots (${opts.units.join(', ')}); it would land beside them, e.g. over another program`,
          );
        }
        if (place === 'above') return;
      }
      const parts = name.split('/');
      for (let i = 1; i < parts.length; i++) {
        const up = parts.slice(0, i).join('/');
        if (links.has(up)) throw refuse(a, name, `lies below the link "${up}"`);
        if (files.has(up)) throw refuse(a, name, `lies below the file "${up}"`);
      }
      const key = collisionKey(name);
      const prior = keys.get(key);
      if (prior !== undefined && prior !== name) throw refuse(a, name, `collides with "${prior}" on a case-insensitive file system`);
      if (seenHere.has(name) && raw.type !== 'dir') throw refuse(a, name, 'duplicate entry');
      seenHere.add(name);
      keys.set(key, name);
      const target = join(staging, ...parts);
      if (raw.type === 'dir') {
        if (files.has(name) || links.has(name)) throw refuse(a, name, 'is a directory here but a file or link in an earlier archive');
        dirs.add(name);
        await mkdirp(target);
        syncDirs.add(target);
        return;
      }
      if (dirs.has(name)) throw refuse(a, name, `is a ${raw.typeLabel} here but a directory in an earlier archive`);
      const earlier = files.get(name) ?? links.get(name);
      if (earlier) {
        // An add-on replacing a file of the base: the later archive wins, as when extracting in order.
        await unlink(target);
        files.delete(name);
        links.delete(name);
      }
      await mkdirp(dirname(target));
      syncDirs.add(dirname(target));
      if (raw.type === 'symlink') {
        if (opts.units) {
          const resolved = posix.normalize(posix.join(posix.dirname(name), raw.linkname));
          if (placeInUnits(resolved, opts.units) !== 'inside')
            throw refuse(a, name, `links to "${raw.linkname}", outside the install's roots`);
        }
        await symlink(raw.linkname, target);
        links.set(name, { path: name, link: raw.linkname, archive: a.name });
        return;
      }
      // A file: created exclusively (never through a link), hashed while written, fsync'd.
      const fh = await open(target, 'wx', 0o600);
      const hash = createHash('sha256');
      let size = 0;
      try {
        for await (const c of body) {
          hash.update(c);
          await fh.write(c);
          size += c.length;
        }
      } finally {
        await fh.close();
      }
      const mode = raw.mode & 0o777 || 0o644;
      await chmod(target, mode);
      bytes += size;
      files.set(name, { path: name, size, sha256: hash.digest('hex'), mode, archive: a.name });
    };

  try {
    await removeTree(staging);
    await mkdirp(staging);
    for (const a of archives) {
      const format = await formatOf(a.path, a.name);
      const totalBytes = (await lstat(a.path)).size;
      const read = new HashedRead(a.path);
      const seenHere = new Set<string>();
      const progress = (readBytes: number) => opts.onProgress?.({ archive: a.name, readBytes, totalBytes, files: files.size });
      let failure: unknown = null;
      try {
        if (format === 'zip') {
          // Zip needs random access to its central directory: hash the file first, then extract.
          await read.finish().then((got) => {
            const bad = a.expected.find((w) => w.sha256 !== got);
            if (bad) throw checksumError(a, got, bad);
          });
          await walkZip(a.path, visitFor(a, seenHere));
          continue;
        }
        await walkTar(decompressed(format, read.stream(progress)), visitFor(a, seenHere));
      } catch (e) {
        failure = e;
        if (format === 'zip') throw e;
      }
      // The verdict on the bytes comes first: a flipped byte is a bad checksum, whatever the reader made of it.
      const got = await read.finish();
      const bad = a.expected.find((w) => w.sha256 !== got);
      if (bad) throw checksumError(a, got, bad);
      if (failure) throw readerError(a.name, failure);
    }
    // One pass of fsyncs at the end, several at a time, rather than one per file while
    // extracting: the kernel writes back while we decompress, and the renames later publish
    // only complete files either way.
    await inParallel(
      [...files.keys()].map((p) => join(staging, ...p.split('/'))),
      8,
      fsyncFile,
    );
    await inParallel([...syncDirs], 8, (d) => fsyncDir(d).catch(() => undefined));
  } catch (e) {
    await removeTree(staging).catch(() => undefined);
    throw toLlmUpgradeError(e, 'verify', false);
  }
  const strip = <T extends { archive: string }>({ archive: _archive, ...rest }: T) => rest;
  return {
    files: [...files.values()].map(strip).sort((x, y) => (x.path < y.path ? -1 : 1)),
    links: [...links.values()].map(strip).sort((x, y) => (x.path < y.path ? -1 : 1)),
    bytes,
  };
}

async function fsyncFile(path: string): Promise<void> {
  // 'r+': Windows flushes (FlushFileBuffers) only through a handle with write access; a file
  // the archive made read-only (0444, not root) still flushes through a read handle on POSIX.
  const fh = await open(path, 'r+').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'EACCES' || e.code === 'EPERM') return open(path, 'r');
    throw e;
  });
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function inParallel<T>(items: T[], width: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) await run(items[next++]!);
    }),
  );
}

/** The asset name of a path or URL: its last path segment. */
export function archiveName(pathOrUrl: string): string {
  if (/^https?:\/\//i.test(pathOrUrl)) return decodeURIComponent(new URL(pathOrUrl).pathname.split('/').pop() ?? '');
  return basename(pathOrUrl);
}
