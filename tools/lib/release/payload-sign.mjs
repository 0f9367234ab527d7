// Sign what the app ships: every PE file (.exe, .dll starting with "MZ") of a Windows payload,
// before it goes into the zip and the installers. The payload may be the app's own prebuilt
// directory, so the signed files go to a copy. Signed files are cached by the unsigned file's
// hash and the signing identity: a signature carries its signing time, and a re-run must
// reproduce the archives byte for byte.
import { existsSync, openSync, readSync, closeSync, readdirSync } from 'node:fs';
import { copyFile, cp, mkdir, rename, rm } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { signWindowsFiles } from '../sign.mjs';
import { hashFile, hashOf } from './hash.mjs';

function isPe(file) {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(2);
    return readSync(fd, b, 0, 2, 0) === 2 && b.toString('latin1') === 'MZ';
  } finally {
    closeSync(fd);
  }
}

/** Relative paths (with /) of the PE files under dir, sorted. */
export function peFilesOf(dir) {
  const out = [];
  const visit = (rel) => {
    for (const d of readdirSync(rel ? join(dir, rel) : dir, { withFileTypes: true })) {
      const p = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) visit(p);
      else if (d.isFile() && /^\.(exe|dll)$/i.test(extname(d.name)) && isPe(join(dir, p))) out.push(p);
    }
  };
  visit('');
  return out.sort();
}

/**
 * Returns { dir, files: [{ file, signed, signature, sha256, unsignedSha256 }] }: without
 * settings the payload is used as is and every PE file is listed as unsigned.
 */
export async function signPayload({ dir, outDir, cacheDir, signing, identity }) {
  const pe = peFilesOf(dir);
  if (!signing) {
    const files = [];
    for (const file of pe) files.push({ file, signed: false, signature: null, sha256: (await hashFile(join(dir, file))).sha256 });
    return { dir, files };
  }
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  await cp(dir, outDir, { recursive: true });
  await mkdir(cacheDir, { recursive: true });
  const files = [];
  for (const file of pe) {
    const unsigned = (await hashFile(join(dir, file))).sha256;
    const cached = join(cacheDir, `${hashOf(unsigned, identity)}${extname(file).toLowerCase()}`);
    if (!existsSync(cached)) {
      const tmp = `${cached}.tmp-${process.pid}${extname(file)}`;
      await copyFile(join(dir, file), tmp);
      const [r] = await signWindowsFiles([tmp], signing);
      if (!r.signed) throw new Error(`could not sign ${file}: ${r.reason}`);
      await rename(tmp, cached);
    }
    await copyFile(cached, join(outDir, file));
    files.push({ file, signed: true, signature: 'authenticode', sha256: (await hashFile(cached)).sha256, unsignedSha256: unsigned });
  }
  return { dir: outDir, files };
}
