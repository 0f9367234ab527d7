import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, renameSync, rmSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { $ } from 'zx';
import { TARBALLS } from './pins.mjs';

export async function sha256File(file) {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk);
  return hash.digest('hex');
}

/**
 * `npm pack` a pinned tarball into the cache (once), check its sha256 against the pin, and
 * extract the one member we need. Returns the extracted file's path.
 * `npm i` refuses the win32 packages on Linux; `npm pack` just downloads.
 */
/**
 * @param {string} key
 * @param {string} cacheDir
 * @param {{ log?: (message: string) => void, printHashes?: boolean }} [options]
 */
export async function fetchPinned(key, cacheDir, { log = () => {}, printHashes = false } = {}) {
  const pin = TARBALLS[key];
  if (!pin) throw new Error(`no pinned tarball named ${key}`);
  mkdirSync(cacheDir, { recursive: true });
  const tarball = join(cacheDir, pin.file);
  if (!existsSync(tarball)) {
    log(`downloading ${pin.spec} (npm pack) into ${cacheDir}`);
    await $({ cwd: cacheDir, quiet: true })`npm pack ${pin.spec} --pack-destination ${cacheDir}`;
  }
  const actual = await sha256File(tarball);
  if (printHashes) log(`${pin.file} sha256 ${actual}`);
  if (actual !== pin.sha256) {
    // A corrupt or substituted tarball must never be reused from the cache.
    rmSync(tarball, { force: true });
    throw new Error(
      `${tarball}: sha256 ${actual} does not match the pinned ${pin.sha256} (file removed; update tools/lib/sea/pins.mjs only after checking the new release)`,
    );
  }
  const outDir = join(cacheDir, `${key}-${pin.sha256.slice(0, 12)}`);
  const extracted = join(outDir, pin.member);
  if (!existsSync(extracted)) {
    const tmp = `${outDir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    await $({ quiet: true })`tar -xzf ${tarball} -C ${tmp} ${pin.member}`;
    rmSync(outDir, { recursive: true, force: true });
    renameSync(tmp, outDir);
  }
  chmodSync(extracted, 0o755);
  return extracted;
}
