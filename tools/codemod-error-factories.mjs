#!/usr/bin/env node
// Rewrites inline `new LlmUpgradeError({ code: 'ERR_X', ... })` into the factory of its code,
// `errors.xError({ ... })` (packages/core/src/error-factories.ts), and fixes the file's imports.
// For merging branches written before the factories existed:
//   node tools/codemod-error-factories.mjs $(git diff --name-only main... -- 'packages/*/src/*.ts')
// Codes computed at run time (a rewrap keeping `e.code`) are left alone. Run `npm run typecheck` after.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';

/** ERR_BAD_PACKAGE → badPackageError; ERR_INTERRUPTED keeps errors.ts' own interruptedError(signal, ...). */
const factoryName = (/** @type {string} */ code) =>
  code
    .slice(4)
    .toLowerCase()
    .replace(/_([a-z])/g, (_, c) => c.toUpperCase()) + 'Error';

const inline = /new LlmUpgradeError\(\{(\s*)code: '(ERR_[A-Z_]+)',\s*/g;

for (const file of process.argv.slice(2)) {
  if (!file.endsWith('.ts') || file.endsWith('.test.ts') || /\/errors\.ts$|\/error-factories\.ts$/.test(file)) continue;
  const before = readFileSync(file, 'utf8');
  // The whitespace before `code` (one space, or a newline and indent) goes before the next property.
  let after = before.replace(inline, (all, lead, code) =>
    code === 'ERR_INTERRUPTED' ? all : `errors.${factoryName(code)}({${lead.includes('\n') ? lead : ' '}`,
  );
  if (after === before) continue;
  const inCore = file.includes('packages/core/src/');
  if (inCore && !/import \* as errors from '[./]+error-factories\.js';/.test(after)) {
    let rel = relative(dirname(file), 'packages/core/src/error-factories.js');
    if (!rel.startsWith('.')) rel = `./${rel}`;
    after = `import * as errors from '${rel}';\n${after}`;
  } else if (!inCore) {
    after = after.replace(/^import \{([^}]*)\} from '@llm-upgrade\/core';$/m, (line, names) => {
      const list = names
        .split(',')
        .map((/** @type {string} */ n) => n.trim())
        .filter(Boolean);
      return list.includes('errors') ? line : `import { ${[...list, 'errors'].join(', ')} } from '@llm-upgrade/core';`;
    });
  }
  // LlmUpgradeError may now be unused as a value; leave it to the type checker (noUnusedLocals) to say so.
  writeFileSync(file, after);
  process.stdout.write(`${file}\n`);
}
