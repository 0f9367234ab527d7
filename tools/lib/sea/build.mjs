import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { bundleCli } from './bundle.mjs';
import { fetchPinned, sha256File } from './fetch.mjs';
import { injectBlob, koffiAssets, makeBlob } from './inject.mjs';
import { withDirLock } from './lock.mjs';
import { KOFFI_PIN, NODE_VERSION, TARBALLS, TARGETS } from './pins.mjs';

export const SEA_FILE_NAMES = { 'linux-x64': 'llm-upgrade-linux-x64', 'win32-x64': 'llm-upgrade-win32-x64.exe' };

export function defaultCacheDir(repoRoot) {
  return process.env.LLM_UPGRADE_SEA_CACHE || join(repoRoot, 'node_modules/.cache/llm-upgrade-sea');
}

/**
 * Build the single executables. Re-running with an unchanged bundle and pins reuses the
 * outputs (a stamp records what they were made from), so tests can call this freely.
 */
export async function buildSea(opts) {
  const out = resolve(resolve(opts.repoRoot), opts.outDir ?? 'out/sea');
  mkdirSync(out, { recursive: true });
  return withDirLock(join(out, '.lock'), () => buildSeaLocked(opts));
}

/** @param {{ repoRoot: string, outDir?: string, targets?: string[], cacheDir?: string, log?: (message: string) => void, printHashes?: boolean, force?: boolean, entry?: string }} options */
async function buildSeaLocked({
  repoRoot,
  outDir,
  targets = TARGETS,
  cacheDir,
  log = () => {},
  printHashes = false,
  force = false,
  entry,
}) {
  const root = resolve(repoRoot);
  const out = resolve(root, outDir ?? 'out/sea');
  const cache = resolve(cacheDir ?? defaultCacheDir(root));
  const work = join(out, '.work');
  mkdirSync(work, { recursive: true });

  const t0 = Date.now();
  const bundle = join(work, 'llm-upgrade.cjs');
  const { version, inputs } = await bundleCli({ repoRoot: root, outFile: bundle, entry });
  const bundleHash = await sha256File(bundle);
  log(`bundled ${inputs.length} modules into ${bundle} (${(statSync(bundle).size / 1024).toFixed(0)} KiB) in ${Date.now() - t0} ms`);

  const node22 = await fetchPinned('linux-x64', cache, { log, printHashes });
  const results = [];
  for (const target of targets) {
    const name = SEA_FILE_NAMES[target];
    if (!name) throw new Error(`unknown SEA target ${target} (known: ${TARGETS.join(', ')})`);
    const outFile = join(out, name);
    const stampFile = join(work, `${target}.stamp`);
    const stamp = JSON.stringify({
      bundleHash,
      codeCache: target === 'linux-x64',
      node: TARBALLS[target === 'win32-x64' ? 'win32-x64' : 'linux-x64'].sha256,
      koffi: TARBALLS[KOFFI_PIN[target]].sha256,
    });
    const started = Date.now();
    let reused = false;
    if (!force && existsSync(outFile) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) {
      reused = true;
    } else {
      const nodeBinary = target === 'win32-x64' ? await fetchPinned('win32-x64', cache, { log, printHashes }) : node22;
      const koffiNode = await fetchPinned(KOFFI_PIN[target], cache, { log, printHashes });
      const blob = await makeBlob({ node22, workDir: join(work, target), bundle, assets: koffiAssets(koffiNode), target });
      await injectBlob({ target, nodeBinary, blob, outFile, postject: join(root, 'node_modules/.bin/postject') });
      writeFileSync(stampFile, stamp);
    }
    const result = {
      target,
      file: outFile,
      bytes: statSync(outFile).size,
      sha256: await sha256File(outFile),
      ms: Date.now() - started,
      reused,
    };
    log(`${reused ? 'up to date' : 'built'} ${outFile} (${(result.bytes / 1048576).toFixed(1)} MiB${reused ? '' : `, ${result.ms} ms`})`);
    results.push(result);
  }
  const manifest = {
    version,
    node: NODE_VERSION,
    bundleSha256: bundleHash,
    executables: results.map(({ target, file, bytes, sha256 }) => ({ target, file: file.slice(out.length + 1), bytes, sha256 })),
  };
  writeFileSync(join(out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return { outDir: out, version, results, ms: Date.now() - t0 };
}
