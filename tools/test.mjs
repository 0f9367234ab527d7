#!/usr/bin/env node
// `npm test`: set up what the tests need, build every package (nx, cached), run every vitest
// project once, and end with the plain count line `N passed, N failed[, N skipped]` taken from
// vitest's own JSON results, so a run that executed nothing is visible.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const env = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_SKIP_NX_CACHE: process.env.NX_SKIP_NX_CACHE ?? '' };
const passthrough = process.argv.slice(2);

function step(title, cmd, args) {
  process.stderr.write(`\n== ${title}: ${cmd} ${args.join(' ')}\n`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env });
  if (r.status !== 0) {
    process.stderr.write(`== ${title} failed (exit ${r.status ?? r.signal})\n`);
    console.log('0 passed, 1 failed');
    process.exit(r.status || 1);
  }
}

if (existsSync(join(root, 'tools/setup.mjs'))) step('setup', process.execPath, ['tools/setup.mjs']);
// build-sea once, here: several test projects read out/sea, none should race to rebuild it.
step('build', 'npx', ['nx', 'run-many', '-t', 'build', 'build-sea', '--outputStyle=static']);
// `npm run lint`: the formatter and linter (Biome, biome.json), then the strict typecheck of
// sources and tests (each package's `lint` target, cached by nx).
step('format and lint', 'npx', ['biome', 'check', '.']);
step('typecheck', 'npx', ['nx', 'run-many', '-t', 'lint', '--outputStyle=static']);

const resultsFile = join(root, 'test-results', 'vitest.json');
rmSync(resultsFile, { force: true });
mkdirSync(dirname(resultsFile), { recursive: true });
process.stderr.write('\n== test: vitest run (all projects)\n');
const run = spawnSync(
  'npx',
  ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${resultsFile}`, ...passthrough],
  { cwd: root, stdio: 'inherit', env },
);

let counts = { passed: 0, failed: 0, skipped: 0 };
try {
  const r = JSON.parse(readFileSync(resultsFile, 'utf8'));
  counts = { passed: r.numPassedTests ?? 0, failed: r.numFailedTests ?? 0, skipped: (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0) };
  // A suite that failed outside its tests (import error, beforeAll/afterAll) may report its tests
  // as skipped or passed: it still fails the run, so it counts as one failure of its own.
  const brokenFiles = (r.testResults ?? []).filter(
    (f) => f.status === 'failed' && !(f.assertionResults ?? []).some((a) => a.status === 'failed'),
  ).length;
  counts.failed += brokenFiles;
} catch {
  counts.failed = Math.max(1, counts.failed);
}
const ok = run.status === 0 && counts.failed === 0 && counts.passed > 0;
console.log(`${counts.passed} passed, ${counts.failed} failed${counts.skipped ? `, ${counts.skipped} skipped` : ''}`);
process.exit(ok ? 0 : run.status || 1);
