import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync, chmodSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { $ } from 'zx';
import { SEA_ASSET_KOFFI, SEA_FUSE } from './pins.mjs';

/**
 * sea-config for one target. No snapshot: it is tied to the host that makes the blob. The code
 * cache is too, so only the Linux blob (made by the same Linux Node 22 that runs it) has one —
 * it saves compiling the bundle at every start; the Windows blob is made on Linux (TOOLCHAIN.md).
 */
export function seaConfig({ bundle, blob, assets, target }) {
  return {
    main: bundle,
    output: blob,
    disableExperimentalSEAWarning: true,
    useSnapshot: false,
    useCodeCache: target === 'linux-x64',
    ...(assets && Object.keys(assets).length > 0 ? { assets } : {}),
  };
}

/** The blob is made by the pinned Linux Node 22 — the same version as both target binaries. */
export async function makeBlob({ node22, workDir, bundle, assets, target }) {
  mkdirSync(workDir, { recursive: true });
  const blob = join(workDir, 'sea-prep.blob');
  const configFile = join(workDir, 'sea-config.json');
  writeFileSync(configFile, `${JSON.stringify(seaConfig({ bundle, blob, assets, target }), null, 2)}\n`);
  await $({ cwd: workDir, quiet: true })`${node22} --experimental-sea-config ${configFile}`;
  return blob;
}

/** Copy the pinned Node binary, drop what postject cannot keep valid, inject the blob. */
export async function injectBlob({ target, nodeBinary, blob, outFile, postject }) {
  mkdirSync(dirname(outFile), { recursive: true });
  const tmp = `${outFile}.tmp`;
  rmSync(tmp, { force: true });
  if (target.startsWith('win32')) {
    // The signature would no longer match once the resource is added; a stale one makes
    // the file look tampered with. The release pipeline signs the result.
    await $({ quiet: true })`osslsigncode remove-signature -in ${nodeBinary} -out ${tmp}`;
  } else {
    copyFileSync(nodeBinary, tmp);
    chmodSync(tmp, 0o755);
    await $({ quiet: true })`strip ${tmp}`;
  }
  await $({ quiet: true })`${postject} ${tmp} NODE_SEA_BLOB ${blob} --sentinel-fuse ${SEA_FUSE}`;
  if (!fuseFlipped(readFileSync(tmp))) throw new Error(`${tmp}: postject ran but the SEA fuse is not flipped`);
  chmodSync(tmp, 0o755);
  renameSync(tmp, outFile);
  return outFile;
}

/** `NODE_SEA_FUSE_…:1` — the executable runs its embedded blob instead of acting as node. */
export function fuseFlipped(bytes) {
  return bytes.includes(Buffer.from(`${SEA_FUSE}:1`)) && !bytes.includes(Buffer.from(`${SEA_FUSE}:0`));
}

export function koffiAssets(koffiNode) {
  return koffiNode ? { [SEA_ASSET_KOFFI]: koffiNode } : {};
}
