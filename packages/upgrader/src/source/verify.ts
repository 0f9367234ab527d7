import { createHash, type KeyObject } from 'node:crypto';
import { type LlmUpgradeError, errors, type ErrorDetails } from '@llm-upgrade/core';
import { ArchiveFormatError, type RawEntry } from '../archive/tar.js';
import { MAX_MANIFEST_BYTES, parseManifest, unsafeEntryError, type Manifest } from '../manifest.js';
import { collisionKey, MANIFEST_NAME, SIGNATURE_NAME, unsafeLinkReason, unsafePathReason } from '../paths.js';
import { verifyManifestSignature } from '../signature.js';
import type { PackageSource } from './open.js';

export interface ScannedEntry {
  path: string;
  kind: 'file' | 'symlink' | 'dir';
  size: number;
  sha256?: string;
  link?: string;
}

export interface VerifiedPackage {
  manifest: Manifest;
  manifestBytes: Buffer;
  signed: boolean;
}

export interface VerifyOptions {
  publicKey?: KeyObject | undefined;
  /** Expected platform key; a manifest naming another platform is refused. */
  platform?: string | undefined;
  onProgress?: (p: { bytes: number; entries: number }) => void;
}

function hashMismatch(path: string, message: string, details: ErrorDetails<'ERR_HASH_MISMATCH'>): LlmUpgradeError {
  return errors.hashMismatchError({
    message: `"${path}": ${message}`,
    hint: 'The package is damaged or was altered; download it again or ask its publisher.',
    phase: 'verify',
    changed: false,
    details: { entry: path, ...details },
  });
}

export function corruptError(where: string, e: unknown): LlmUpgradeError {
  return errors.badPackageError({
    message: `${where}: ${(e as Error).message}`,
    hint: 'The archive is truncated or corrupt; download it again.',
    phase: 'verify',
    changed: false,
  });
}

/** Normalised entry path, or null for the archive's own root directory entry ("./"). */
export function normaliseEntryName(raw: RawEntry): string | null {
  let name = raw.name;
  while (name.startsWith('./')) name = name.slice(2);
  if (raw.type === 'dir') name = name.replace(/\/+$/, '');
  if (name === '' || name === '.') return raw.type === 'dir' ? null : '';
  return name;
}

/** Checks every entry's name and type; returns the normalised path (null: skip this directory entry). */
export function checkRawEntry(raw: RawEntry): string | null {
  const name = normaliseEntryName(raw);
  if (name === null) return null;
  const reason = unsafePathReason(name);
  if (reason) throw unsafeEntryError(raw.name, reason);
  if (raw.type === 'hardlink') throw unsafeEntryError(name, `hardlink to "${raw.linkname}" (hardlinks are refused)`);
  if (raw.type === 'device' || raw.type === 'fifo' || raw.type === 'other')
    throw unsafeEntryError(name, `${raw.typeLabel} entries are refused`);
  if (raw.type === 'symlink') {
    const why = unsafeLinkReason(name, raw.linkname);
    if (why) throw unsafeEntryError(name, why);
  }
  return name;
}

async function readAll(body: AsyncGenerator<Buffer>, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    n += c.length;
    if (n > limit)
      throw errors.badPackageError({
        message: `${what} is larger than ${limit} bytes`,
        hint: 'This is not a package made by `llm-upgrade pack`.',
        phase: 'verify',
        changed: false,
      });
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/**
 * Pass 1: reads the whole package, writes nothing. Every entry's name, type and link are
 * checked; every file is hashed and compared with the manifest. Once the manifest has been
 * seen (pack writes it first), an entry outside it or a file growing past its declared size
 * stops the read at once, so a decompression bomb costs no more than the manifest allows.
 */
export async function verifyPackage(source: PackageSource, opts: VerifyOptions = {}): Promise<VerifiedPackage> {
  const where = source.path;
  const entries = new Map<string, ScannedEntry>();
  const keys = new Map<string, string>();
  let manifestBytes: Buffer | undefined;
  let signature: Buffer | undefined;
  let manifest: Manifest | undefined;
  let expected: Map<string, { size: number; sha256?: string; link?: string }> | undefined;
  let bytes = 0;
  let count = 0;

  const learnManifest = (buf: Buffer) => {
    manifest = parseManifest(buf, where);
    expected = new Map();
    for (const f of manifest.files) expected.set(f.path, { size: f.size, sha256: f.sha256 });
    for (const l of manifest.links ?? []) expected.set(l.path, { size: 0, link: l.link });
  };

  try {
    await source.walk(async (raw, body) => {
      const name = checkRawEntry(raw);
      if (name === null) return;
      const key = collisionKey(name);
      const prior = keys.get(key);
      if (prior !== undefined && !(raw.type === 'dir' && entries.get(prior)?.kind === 'dir')) {
        throw unsafeEntryError(name, `duplicate entry (also "${prior}")`);
      }
      keys.set(key, name);
      count++;
      if (raw.type === 'dir') {
        entries.set(name, { path: name, kind: 'dir', size: 0 });
        return;
      }
      if (name === MANIFEST_NAME && raw.type === 'file') {
        manifestBytes = await readAll(body, MAX_MANIFEST_BYTES, MANIFEST_NAME);
        learnManifest(manifestBytes);
        return;
      }
      if (name === SIGNATURE_NAME && raw.type === 'file') {
        signature = await readAll(body, 4096, SIGNATURE_NAME);
        return;
      }
      const want = expected?.get(name);
      if (expected && !want) throw unsafeEntryError(name, `not listed in ${MANIFEST_NAME}`);
      if (raw.type === 'symlink') {
        entries.set(name, { path: name, kind: 'symlink', size: 0, link: raw.linkname });
        return;
      }
      const hash = createHash('sha256');
      let size = 0;
      for await (const c of body) {
        size += c.length;
        if (want && size > want.size)
          throw hashMismatch(name, `expands past the ${want.size} bytes its manifest declares`, { expectedSize: want.size });
        hash.update(c);
        bytes += c.length;
        opts.onProgress?.({ bytes, entries: count });
      }
      entries.set(name, { path: name, kind: 'file', size, sha256: hash.digest('hex') });
    });
  } catch (e) {
    if (e instanceof ArchiveFormatError) throw corruptError(where, e);
    throw e;
  }

  if (!manifestBytes || !manifest) {
    throw errors.badPackageError({
      message: `${where} has no ${MANIFEST_NAME} at its root`,
      hint: 'Build packages with `llm-upgrade pack`; it writes the manifest.',
      phase: 'verify',
      changed: false,
    });
  }
  if (opts.publicKey) verifyManifestSignature(manifestBytes, signature, opts.publicKey, where);
  if (opts.platform && manifest.platform && manifest.platform !== opts.platform) {
    throw errors.badPackageError({
      message: `${where} is built for ${manifest.platform}, this machine is ${opts.platform}`,
      hint: `Use the ${opts.platform} package.`,
      phase: 'verify',
      changed: false,
    });
  }
  for (const f of manifest.files) {
    const got = entries.get(f.path);
    if (!got)
      throw errors.badPackageError({
        message: `${where}: "${f.path}" is listed in ${MANIFEST_NAME} but missing from the package`,
        hint: 'The package is incomplete; download or build it again.',
        phase: 'verify',
        changed: false,
        details: { entry: f.path },
      });
    if (got.kind !== 'file') throw unsafeEntryError(f.path, `is a ${got.kind} in the package but a file in the manifest`);
    if (got.size !== f.size)
      throw hashMismatch(f.path, `size ${got.size} differs from the manifest's ${f.size}`, { size: got.size, expectedSize: f.size });
    if (got.sha256 !== f.sha256)
      throw hashMismatch(f.path, `SHA-256 ${got.sha256} differs from the manifest's ${f.sha256}`, {
        sha256: got.sha256,
        expectedSha256: f.sha256,
      });
  }
  for (const l of manifest.links ?? []) {
    const got = entries.get(l.path);
    if (got?.kind !== 'symlink' || got.link !== l.link)
      throw unsafeEntryError(
        l.path,
        `link in the manifest (→ ${l.link}) does not match the package (${got ? `${got.kind}${got.link ? ` → ${got.link}` : ''}` : 'missing'})`,
      );
  }
  const listed = new Set([...manifest.files.map((f) => f.path), ...(manifest.links ?? []).map((l) => l.path)]);
  for (const e of entries.values()) {
    if (e.kind === 'dir') {
      if (listed.has(e.path)) throw unsafeEntryError(e.path, 'is a directory in the package but a file in the manifest');
      continue;
    }
    if (!listed.has(e.path)) throw unsafeEntryError(e.path, `not listed in ${MANIFEST_NAME}`);
  }
  return { manifest, manifestBytes, signed: signature !== undefined && opts.publicKey !== undefined };
}
