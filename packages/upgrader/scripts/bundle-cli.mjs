#!/usr/bin/env node
// Bundles the built CLI (dist/cli/main.js and everything it imports, @llm-upgrade/core included)
// into one CommonJS file, dist/cli.bundle.cjs, that bin/llm-upgrade.js loads: Node then reads
// and compiles one file instead of resolving and loading ~170 ES modules at every start.
// Run by the package's build target after tsc. koffi stays outside (a native addon): it is
// resolved at run time from the bundle's directory, as from dist/.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const { build } = createRequire(join(pkgDir, 'package.json'))('esbuild');
const { version } = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));

await build({
  entryPoints: [join(pkgDir, 'dist/cli/main.js')],
  outfile: join(pkgDir, 'dist/cli.bundle.cjs'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['koffi'],
  // import() of built-ins becomes a require() in a promise: code run from a V8 code cache
  // (bin/load-bundle.cjs on Node 20) loses vm.Script's import() callback.
  supported: { 'dynamic-import': false },
  legalComments: 'none',
  logLevel: 'warning',
  define: {
    __LLM_UPGRADE_VERSION__: JSON.stringify(version),
    'import.meta.url': '__llmUpgradeImportMetaUrl',
  },
  // import.meta does not exist in CommonJS; modules that resolve files from it get the bundle's URL.
  banner: { js: `const __llmUpgradeImportMetaUrl = require('node:url').pathToFileURL(__filename).href;` },
});
