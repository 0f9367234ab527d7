#!/usr/bin/env node
// Make this machine able to build and inspect installers: Debian's wixl, msitools (msiinfo,
// msibuild), nsis (makensis), osslsigncode and a C compiler for test fixtures. Installs what
// is missing with apt-get, as root only; otherwise says what to install. Idempotent.
//   node tools/setup.mjs [--check]   (--check: report only, exit 1 when something is missing)
import { spawnSync } from 'node:child_process';

const NEEDS = [
  { command: 'wixl', pkg: 'wixl' },
  { command: 'msiinfo', pkg: 'msitools' },
  { command: 'msibuild', pkg: 'msitools' },
  { command: 'makensis', pkg: 'nsis' },
  { command: 'osslsigncode', pkg: 'osslsigncode' },
  { command: 'cc', pkg: 'gcc' },
  { command: 'strip', pkg: 'binutils' },
  // The Windows path run for real (test/wine): Wine 8 and a mingw-w64 compiler for fixtures.
  { command: 'wine', pkg: 'wine' },
  { command: 'x86_64-w64-mingw32-gcc', pkg: 'gcc-mingw-w64-x86-64-posix' },
];

const say = (m) => console.error(`[setup] ${m}`);
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

function missingPackages() {
  return [...new Set(NEEDS.filter((n) => !has(n.command)).map((n) => n.pkg))];
}

function run(cmd, args) {
  say(`running: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
}

const checkOnly = process.argv.includes('--check');
const missing = missingPackages();
if (missing.length === 0) {
  say(`all tools present: ${NEEDS.map((n) => n.command).join(', ')}`);
} else if (checkOnly) {
  say(`missing Debian packages: ${missing.join(' ')}`);
  process.exitCode = 1;
} else if (process.platform !== 'linux' || !has('apt-get')) {
  // Not fatal: the tests that need a missing tool skip and print why.
  say(`missing: ${missing.join(' ')} — install them with your system's package manager (Debian/Ubuntu: apt-get install -y ${missing.join(' ')})`);
} else if (typeof process.getuid === 'function' && process.getuid() !== 0) {
  say(`missing: ${missing.join(' ')} — not root, so not installing; run: sudo apt-get update && sudo apt-get install -y ${missing.join(' ')}`);
} else {
  try {
    say(`installing missing Debian packages: ${missing.join(' ')}`);
    run('apt-get', ['update']);
    run('apt-get', ['install', '-y', ...missing]);
    const still = missingPackages();
    if (still.length > 0) throw new Error(`still missing after install: ${still.join(' ')}`);
    say('done');
  } catch (e) {
    say(e instanceof Error ? e.message : String(e));
    process.exitCode = 1;
  }
}
