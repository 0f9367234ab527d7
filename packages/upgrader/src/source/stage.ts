import { createHash } from 'node:crypto';
import { chmod, open, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { toLlmUpgradeError, errors } from '@llm-upgrade/core';
import { ArchiveFormatError } from '../archive/tar.js';
import { fsyncDir, mkdirp, removeTree } from '../fsutil.js';
import type { Manifest } from '../manifest.js';
import { MANIFEST_NAME, SIGNATURE_NAME } from '../paths.js';
import type { PackageSource } from './open.js';
import { checkRawEntry, corruptError } from './verify.js';

export interface StageProgress {
  bytes: number;
  totalBytes: number;
  files: number;
  totalFiles: number;
}

/**
 * Pass 2: writes the verified package into a fresh staging directory on the install's file
 * system. Every file is created exclusively (never through an existing link), capped at its
 * manifest size, re-hashed (the source could have changed since pass 1) and fsync'd, so the
 * later renames publish complete files. Any failure, a full disk included, removes staging.
 */
export async function stagePackage(
  source: PackageSource,
  manifest: Manifest,
  staging: string,
  onProgress?: (p: StageProgress) => void,
): Promise<void> {
  const want = new Map(manifest.files.map((f) => [f.path, f]));
  const totalBytes = manifest.files.reduce((n, f) => n + f.size, 0);
  const written = new Set<string>();
  const dirs = new Set<string>([staging]);
  let bytes = 0;
  try {
    await removeTree(staging);
    await mkdirp(staging);
    await source.walk(async (raw, body) => {
      const name = checkRawEntry(raw);
      if (name === null || raw.type !== 'file' || name === MANIFEST_NAME || name === SIGNATURE_NAME) return;
      const f = want.get(name);
      if (!f || written.has(name))
        throw errors.badPackageError({
          message: `${source.path}: "${name}" changed between verification and staging`,
          hint: 'Do not modify the package while it is being installed.',
          phase: 'stage',
          changed: false,
        });
      const target = join(staging, ...name.split('/'));
      await mkdirp(dirname(target));
      dirs.add(dirname(target));
      const fh = await open(target, 'wx', 0o600);
      const hash = createHash('sha256');
      let size = 0;
      try {
        for await (const c of body) {
          size += c.length;
          if (size > f.size)
            throw errors.hashMismatchError({
              message: `"${name}" expands past the ${f.size} bytes its manifest declares`,
              hint: 'The package is damaged or hostile; do not install it.',
              phase: 'stage',
              changed: false,
              details: { entry: name },
            });
          hash.update(c);
          await fh.write(c);
          bytes += c.length;
          onProgress?.({ bytes, totalBytes, files: written.size, totalFiles: want.size });
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      if (size !== f.size || hash.digest('hex') !== f.sha256) {
        throw errors.hashMismatchError({
          message: `"${name}" changed between verification and staging (size or SHA-256 differs)`,
          hint: 'Do not modify the package while it is being installed.',
          phase: 'stage',
          changed: false,
          details: { entry: name },
        });
      }
      await chmod(target, f.mode & 0o777);
      written.add(name);
    });
    for (const f of manifest.files) {
      if (!written.has(f.path))
        throw errors.badPackageError({
          message: `${source.path}: "${f.path}" disappeared between verification and staging`,
          hint: 'Do not modify the package while it is being installed.',
          phase: 'stage',
          changed: false,
        });
    }
    for (const l of manifest.links ?? []) {
      const target = join(staging, ...l.path.split('/'));
      await mkdirp(dirname(target));
      dirs.add(dirname(target));
      await symlink(l.link, target);
    }
    for (const d of dirs) await fsyncDir(d);
  } catch (e) {
    await removeTree(staging).catch(() => undefined);
    if (e instanceof ArchiveFormatError) throw corruptError(source.path, e);
    throw toLlmUpgradeError(e, 'stage', false);
  }
}
