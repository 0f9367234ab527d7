#!/usr/bin/env node
// The `llm-upgrade` command. A committed shim (not dist/ itself) so that npm can link and mark
// it executable at install time, before the TypeScript build has produced dist/.
// It loads the one-file bundle of the CLI (dist/cli.bundle.cjs, made by the build) when there is
// one: one file to read and compile instead of ~170 modules, and with a V8 code cache
// (load-bundle.cjs) not even that. Without the bundle, dist/cli/main.js.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const bundle = new URL('../dist/cli.bundle.cjs', import.meta.url);
if (existsSync(bundle)) createRequire(import.meta.url)('./load-bundle.cjs')(fileURLToPath(bundle));
else {
  import('../dist/cli/main.js').catch((e) => {
    if (e && e.code === 'ERR_MODULE_NOT_FOUND') {
      process.stderr.write('llm-upgrade is not built yet: run `npm run build` in the repository first.\n');
      process.exit(1);
    }
    throw e;
  });
}
