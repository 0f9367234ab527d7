#!/usr/bin/env node
// Builds the sample app's payload for one platform from the fake runner sources:
//   linux-x64: bin/ollama + lib/ollama/llama-server          (cc)
//   win32-x64: ollama.exe + lib/ollama/llama-server.exe      (x86_64-w64-mingw32-gcc)
// Both binaries print `ollama version is <version>` and answer GET /api/version with it.
//   node examples/sample-app/build-payload.mjs --version 1.0.0 --platform linux-x64 --out DIR
// The output is byte-for-byte reproducible (mingw: --no-insert-timestamp), so a re-run of the
// release packs archives with the same hashes.
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export const SOURCES = {
  'linux-x64': join(repoRoot, 'packages/testkit/fake-runner.c'),
  'win32-x64': join(repoRoot, 'test/wine/fixtures/fake-runner.c'),
};

const COMPILERS = { 'linux-x64': 'cc', 'win32-x64': 'x86_64-w64-mingw32-gcc' };

function compilerArgs(platform, version, out) {
  if (platform === 'linux-x64') return ['-O2', '-Wall', `-DVERSION="${version}"`, '-o', out, SOURCES[platform]];
  return ['-O2', '-Wall', '-municode', `-DRUNNER_VERSION="${version}"`, '-Wl,--no-insert-timestamp', '-o', out, SOURCES[platform]];
}

/** The compiler a platform needs, or null when it is not on PATH. */
export async function compilerFor(platform) {
  const cc = COMPILERS[platform];
  if (!cc) return null;
  try {
    await run('sh', ['-c', `command -v ${cc}`]);
    return cc;
  } catch {
    return null;
  }
}

/**
 * Writes the payload of `platform` at `version` into `outDir` (emptied first).
 * Returns { built: true, files } or { built: false, reason } when the compiler is missing.
 */
export async function buildPayload({ version, platform, outDir }) {
  if (!/^[0-9A-Za-z.+-]+$/.test(version)) throw new Error(`version "${version}" must match [0-9A-Za-z.+-]+`);
  if (!COMPILERS[platform]) throw new Error(`the sample app has no ${platform} payload (known: ${Object.keys(COMPILERS).join(', ')})`);
  const cc = await compilerFor(platform);
  if (!cc)
    return {
      built: false,
      reason: `${COMPILERS[platform]} is not installed (apt-get install ${platform === 'win32-x64' ? 'gcc-mingw-w64-x86-64-posix' : 'gcc'})`,
    };
  const layout =
    platform === 'linux-x64'
      ? { main: 'bin/ollama', engine: 'lib/ollama/llama-server' }
      : { main: 'ollama.exe', engine: 'lib/ollama/llama-server.exe' };
  await rm(outDir, { recursive: true, force: true });
  await mkdir(join(outDir, 'lib', 'ollama'), { recursive: true });
  if (platform === 'linux-x64') await mkdir(join(outDir, 'bin'), { recursive: true });
  const main = join(outDir, layout.main);
  try {
    await run(cc, compilerArgs(platform, version, main), { maxBuffer: 16 << 20 });
  } catch (e) {
    throw new Error(`${cc} could not compile ${SOURCES[platform]}: ${e.stderr || e.message}`);
  }
  await copyFile(main, join(outDir, layout.engine));
  // Modes go into the package manifest: set them, do not inherit the umask.
  for (const f of [layout.main, layout.engine]) await chmod(join(outDir, f), 0o755);
  return { built: true, files: [layout.main, layout.engine] };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { version: { type: 'string' }, platform: { type: 'string' }, out: { type: 'string' } } });
  if (!values.version || !values.platform || !values.out) {
    console.error('usage: build-payload.mjs --version V --platform linux-x64|win32-x64 --out DIR');
    process.exit(2);
  }
  const r = await buildPayload({ version: values.version, platform: values.platform, outDir: values.out });
  if (!r.built) {
    console.error(`build-payload: ${values.platform} skipped: ${r.reason}`);
    process.exit(3);
  }
  console.error(`build-payload: ${values.platform} ${values.version} → ${values.out}: ${r.files.join(', ')}`);
}
