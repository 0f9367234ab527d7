#!/usr/bin/env node
// Make this machine able to build and inspect installers: Debian's wixl, msitools (msiinfo,
// msibuild), nsis (makensis), osslsigncode and a C compiler for test fixtures, Wine (64- and
// 32-bit: Inno Setup's compiler and every Inno Setup.exe are 32-bit) with an X server for it,
// and the tools other suites use. Installs what is missing with apt-get, as root only;
// otherwise says what to install. Idempotent.
//   node tools/setup.mjs [--check]   (--check: report only, exit 1 when something is missing)
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
const dpkgInstalled = (pkg) => {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own ${Status} field syntax
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
};

const NEEDS = [
  { what: 'wixl', pkg: 'wixl' },
  { what: 'msiinfo', pkg: 'msitools' },
  { what: 'msibuild', pkg: 'msitools' },
  { what: 'makensis', pkg: 'nsis' },
  { what: 'osslsigncode', pkg: 'osslsigncode' },
  { what: 'cc', pkg: 'gcc' },
  { what: 'strip', pkg: 'binutils' },
  // The Windows path run for real (test/wine): Wine 8 and a mingw-w64 compiler for fixtures.
  { what: 'wine', pkg: 'wine' },
  // Debian's `wine` depends on wine64 OR wine32: with wine32 installed first, the 64-bit loader
  // (which the 64-bit prefixes and Node 22 need) is missing until wine64 is asked for.
  { what: 'wine64', pkg: 'wine64', present: () => existsSync('/usr/lib/wine/wine64') || process.platform !== 'linux' },
  { what: 'x86_64-w64-mingw32-gcc', pkg: 'gcc-mingw-w64-x86-64-posix' },
  // 32-bit Wine for ISCC.exe and Inno Setup.exe; needs the i386 architecture (added below).
  {
    what: 'wine32 (i386)',
    pkg: 'wine32:i386',
    i386: true,
    present: () =>
      dpkgInstalled('wine32:i386') || dpkgInstalled('wine32') || existsSync('/usr/lib/i386-linux-gnu/wine/i386-windows/kernel32.dll'),
  },
  // A silent Inno Setup.exe fails under the null display driver: it runs under xvfb-run.
  { what: 'xvfb-run', pkg: 'xvfb' },
  { what: 'xauth', pkg: 'xauth' },
  { what: 'systemd-nspawn', pkg: 'systemd-container' },
  { what: 'ansible-playbook', pkg: 'ansible-core' },
  // The collection's lint check (integrations/ansible): Debian's ansible-lint works offline.
  { what: 'ansible-lint', pkg: 'ansible-lint' },
  { what: 'zstd', pkg: 'zstd' },
  { what: 'tmux', pkg: 'tmux' },
];

const say = (m) => console.error(`[setup] ${m}`);
const present = (n) => (n.present ? n.present() : has(n.what));

function missingNeeds() {
  return NEEDS.filter((n) => !present(n));
}
const packagesOf = (needs) => [...new Set(needs.map((n) => n.pkg))];

function run(cmd, args) {
  say(`running: ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
}

function hasI386() {
  const r = spawnSync('dpkg', ['--print-foreign-architectures'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.split(/\s+/).includes('i386');
}

const checkOnly = process.argv.includes('--check');
const missingList = missingNeeds();
const missing = packagesOf(missingList);
const needsI386 = missingList.some((n) => n.i386);
if (missing.length === 0) {
  say(`all tools present: ${NEEDS.map((n) => n.what).join(', ')}`);
} else if (checkOnly) {
  say(`missing Debian packages: ${missing.join(' ')}`);
  process.exitCode = 1;
} else if (process.platform !== 'linux' || !has('apt-get')) {
  // Not fatal: the tests that need a missing tool skip and print why.
  say(
    `missing: ${missing.join(' ')} — install them with your system's package manager (Debian/Ubuntu: apt-get install -y ${missing.join(' ')})`,
  );
} else if (typeof process.getuid === 'function' && process.getuid() !== 0) {
  const arch = needsI386 && !hasI386() ? 'sudo dpkg --add-architecture i386 && ' : '';
  say(
    `missing: ${missing.join(' ')} — not root, so not installing; run: ${arch}sudo apt-get update && sudo apt-get install -y ${missing.join(' ')}`,
  );
} else {
  try {
    say(`installing missing Debian packages: ${missing.join(' ')}`);
    if (needsI386 && !hasI386()) run('dpkg', ['--add-architecture', 'i386']);
    run('apt-get', ['update']);
    run('apt-get', ['install', '-y', ...missing]);
    const still = packagesOf(missingNeeds());
    if (still.length > 0) throw new Error(`still missing after install: ${still.join(' ')}`);
    say('done');
  } catch (e) {
    say(e instanceof Error ? e.message : String(e));
    process.exitCode = 1;
  }
}
