#!/usr/bin/env node
// Build the llm-upgrade single executables (Node 22 SEA) for linux-x64 and win32-x64.
//   node tools/build-sea.mjs [--target linux-x64] [--target win32-x64] [--out out/sea]
//                            [--cache DIR] [--force] [--print-hashes]
// Output: out/sea/llm-upgrade-linux-x64, out/sea/llm-upgrade-win32-x64.exe, out/sea/manifest.json
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { buildSea } from './lib/sea/build.mjs';
import { TARGETS } from './lib/sea/pins.mjs';

const { values } = parseArgs({
  options: {
    target: { type: 'string', multiple: true },
    out: { type: 'string' },
    cache: { type: 'string' },
    force: { type: 'boolean' },
    'print-hashes': { type: 'boolean' },
  },
});
const repoRoot = fileURLToPath(new URL('..', import.meta.url));
try {
  const r = await buildSea({
    repoRoot,
    outDir: values.out,
    targets: values.target ?? TARGETS,
    cacheDir: values.cache,
    force: values.force === true,
    printHashes: values['print-hashes'] === true,
    log: (m) => console.error(`[build-sea] ${m}`),
  });
  console.error(`[build-sea] done in ${r.ms} ms: ${r.results.map((x) => x.file).join(', ')}`);
} catch (e) {
  console.error(`[build-sea] failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
}
