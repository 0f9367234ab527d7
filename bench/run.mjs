#!/usr/bin/env node
// `npm run bench`: builds the packages, then runs every bench/*-bench.mjs in its own process,
// one after the other (they measure wall time, so nothing else of ours runs beside them).
// Each writes its markdown table to bench/results/<name>.md.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const only = process.argv.slice(2);
const env = { ...process.env, NX_DAEMON: 'false' };

const build = spawnSync('npx', ['nx', 'run-many', '-t', 'build', '--outputStyle=static'], { cwd: root, stdio: 'inherit', env });
if (build.status !== 0) process.exit(build.status ?? 1);

let failed = 0;
for (const file of readdirSync(here)
  .filter((f) => f.endsWith('-bench.mjs'))
  .sort()) {
  if (only.length && !only.some((o) => file.includes(o))) continue;
  process.stderr.write(`\n== ${file}\n`);
  const r = spawnSync(process.execPath, [join(here, file)], { cwd: root, stdio: 'inherit', env });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
