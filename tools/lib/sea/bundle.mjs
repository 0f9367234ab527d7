import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

/** `node:module` → module-sea.cjs everywhere except inside that shim itself. */
function seaSafeNodeModule(shim) {
  return {
    name: 'sea-safe-node-module',
    setup(b) {
      b.onResolve({ filter: /^(node:)?module$/ }, (args) => (args.importer === shim ? undefined : { path: shim }));
    },
  };
}

/**
 * Bundle the CLI to one CommonJS file for the SEA. Workspace packages resolve to their TS
 * sources (no prior `tsc` build needed); `koffi` resolves to a loader for the SEA asset.
 */
/** @param {{ repoRoot: string, outFile: string, version?: string, entry?: string }} options */
export async function bundleCli({ repoRoot, outFile, version, entry }) {
  const v = version ?? JSON.parse(readFileSync(join(repoRoot, 'packages/upgrader/package.json'), 'utf8')).version;
  const result = await build({
    entryPoints: [join(repoRoot, 'tools/lib/sea/sea-entry.cjs')],
    outfile: outFile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    minify: false,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
    alias: {
      '@llm-upgrade/core': join(repoRoot, 'packages/core/src/index.ts'),
      'llm-upgrade': join(repoRoot, 'packages/upgrader/src/index.ts'),
      koffi: join(repoRoot, 'tools/lib/sea/koffi-sea.cjs'),
      __LLM_UPGRADE_CLI_MAIN__: entry ?? join(repoRoot, 'packages/upgrader/src/cli/main.ts'),
    },
    plugins: [seaSafeNodeModule(join(repoRoot, 'tools/lib/sea/module-sea.cjs'))],
    define: {
      __LLM_UPGRADE_VERSION__: JSON.stringify(v),
      'import.meta.url': '__llmUpgradeImportMetaUrl',
    },
    // import.meta does not exist in CommonJS; give modules that compute paths a real URL.
    banner: { js: `const __llmUpgradeImportMetaUrl = require('node:url').pathToFileURL(__filename).href;` },
  });
  const inputs = Object.keys(result.metafile.inputs);
  return { outFile, version: v, inputs };
}
