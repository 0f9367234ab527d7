#!/usr/bin/env node
// The `llm-upgrade-installer` command. A committed shim (not dist/ itself) so that npm can link
// and mark it executable at install time, before the TypeScript build has produced dist/.
import('../dist/cli.js').catch((e) => {
  if (e && e.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write('llm-upgrade-installer is not built yet: run `npm run build` in the repository first.\n');
    process.exit(1);
  }
  throw e;
});
