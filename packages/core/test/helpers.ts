// Shared helpers for the core integration tests: real installs and trees from @llm-upgrade/testkit.
import { copyFile, chmod, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { build } from 'esbuild';
import { identityOf, listPids, readProcLink, type TestKit } from '@llm-upgrade/testkit';
import { isUnderRoot } from '../src/index.js';

export const VERSION = '0.9.1';

/** Copies the compiled fake runner to `path` (any name: `ollama app`, a 31-character name...). */
export async function placeRunner(kit: TestKit, path: string): Promise<string> {
  const compiled = await kit.compileFakeRunner({ version: VERSION });
  await mkdir(dirname(path), { recursive: true });
  await copyFile(compiled, path);
  await chmod(path, 0o755);
  return path;
}

/** Live (non-zombie) pids whose executable lies under root, read from /proc by the test itself. */
export function liveUnder(root: string): number[] {
  return listPids().filter((pid) => {
    const exe = readProcLink(pid, 'exe');
    return exe !== null && isUnderRoot(exe, root) && identityOf(pid) !== null;
  });
}

export const alive = (pid: number) => identityOf(pid) !== null;

/**
 * Bundles test/fixtures/run-core.ts (core from source) into one .mjs in a kit temp dir, so a
 * plain `node` (another user, or a child of a fake runner) can run the library.
 */
export async function bundleRunCore(kit: TestKit): Promise<string> {
  const dir = await kit.makeTempDir('llm-upgrade-bundle-');
  const outfile = join(dir, 'run-core.mjs');
  await build({
    entryPoints: [new URL('./fixtures/run-core.ts', import.meta.url).pathname],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    logLevel: 'silent',
    external: ['koffi'],
    plugins: [
      {
        name: 'other-os-backends',
        // Only the Linux backend runs here; the others stay unresolved imports that are never taken.
        setup(b) {
          b.onResolve({ filter: /^\.\/(win32|darwin)\.js$/ }, (args) => ({ path: args.path, external: true }));
        },
      },
    ],
  });
  await chmod(outfile, 0o644);
  return outfile;
}
