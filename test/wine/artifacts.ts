// What the wine tests run inside the prefix, built or fetched once and cached: the pinned
// Windows Node 22 and koffi (through tools/lib/sea's pinned, sha256-checked fetch, sharing its
// cache with the SEA build), the core bundled for Windows with a small driver, and the win32
// single executable (tools/build-sea.mjs, which reuses an up-to-date build).
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { cacheDir } from './fixtures.js';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

type FetchPinned = (key: string, cacheDir: string, options?: { log?: (m: string) => void }) => Promise<string>;
interface SeaBuildResult {
  results: Array<{ target: string; file: string; reused: boolean; ms: number }>;
}
type BuildSea = (options: { repoRoot: string; outDir: string; targets: string[]; log?: (m: string) => void }) => Promise<SeaBuildResult>;

async function seaTools(): Promise<{ fetchPinned: FetchPinned; buildSea: BuildSea; defaultCacheDir: (root: string) => string }> {
  const fetchModule = join(repoRoot, 'tools/lib/sea/fetch.mjs');
  const buildModule = join(repoRoot, 'tools/lib/sea/build.mjs');
  if (!existsSync(fetchModule) || !existsSync(buildModule)) {
    throw new Error(`the SEA build tools are missing (${fetchModule}, ${buildModule})`);
  }
  const f = (await import(pathToFileURL(fetchModule).href)) as { fetchPinned: FetchPinned };
  const b = (await import(pathToFileURL(buildModule).href)) as { buildSea: BuildSea; defaultCacheDir: (root: string) => string };
  return { fetchPinned: f.fetchPinned, buildSea: b.buildSea, defaultCacheDir: b.defaultCacheDir };
}

/** The pinned Windows node.exe (Node 22: Node 24's dies under Wine 8). */
export async function windowsNodeExe(): Promise<string> {
  const { fetchPinned, defaultCacheDir } = await seaTools();
  return fetchPinned('win32-x64', defaultCacheDir(repoRoot));
}

/** koffi's JS package (installed here) and the pinned @koromix/koffi-win32-x64 koffi.node. */
export async function koffiForWindows(): Promise<{ koffiPackage: string; nativeModule: string }> {
  const { fetchPinned, defaultCacheDir } = await seaTools();
  const nativeModule = await fetchPinned('koffi-win32-x64', defaultCacheDir(repoRoot));
  const koffiPackage = join(repoRoot, 'node_modules', 'koffi');
  if (!existsSync(join(koffiPackage, 'package.json'))) throw new Error(`koffi is not installed at ${koffiPackage} (npm install)`);
  return { koffiPackage, nativeModule };
}

/**
 * fixtures/backend-driver.ts with @llm-upgrade/core bundled into one CommonJS file for Node on
 * Windows; koffi stays external so Node resolves it from node_modules as an npm install would.
 */
export async function bundleBackendDriver(): Promise<string> {
  const out = join(cacheDir('bundle'), 'backend-driver.cjs');
  const partial = `${out}.${process.pid}.partial`;
  await build({
    entryPoints: [join(repoRoot, 'test/wine/fixtures/backend-driver.ts')],
    outfile: partial,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node22',
    logLevel: 'error',
    external: ['koffi'],
    alias: { '@llm-upgrade/core': join(repoRoot, 'packages/core/src/index.ts') },
    define: { 'import.meta.url': '__wineDriverImportMetaUrl' },
    banner: { js: `const __wineDriverImportMetaUrl = require('node:url').pathToFileURL(__filename).href;` },
  });
  renameSync(partial, out);
  return out;
}

let seaPromise: Promise<{ exe: string; built: boolean; ms: number }> | undefined;

/**
 * llm-upgrade-win32-x64.exe built by tools/lib/sea exactly as `node tools/build-sea.mjs` builds
 * out/sea, and reused while its bundle and pins are unchanged. It goes to a directory of its
 * own (one per checkout): under `npm test` the installer-hooks and tools projects build out/sea at the same time,
 * and two builds writing the same work files corrupt each other.
 */
export function windowsSea(): Promise<{ exe: string; built: boolean; ms: number }> {
  seaPromise ??= (async () => {
    const { buildSea } = await seaTools();
    // One directory per checkout: worktrees with different sources sharing one would rebuild
    // it for each other (~1 min each time) and invalidate every cached installer.
    const outDir = cacheDir('sea', createHash('sha256').update(repoRoot).digest('hex').slice(0, 12));
    const r = await buildSea({ repoRoot, outDir, targets: ['win32-x64'], log: (m) => process.stderr.write(`[wine] [build-sea] ${m}\n`) });
    const win = r.results.find((x) => x.target === 'win32-x64');
    if (!win) throw new Error('build-sea produced no win32-x64 executable');
    return { exe: win.file, built: !win.reused, ms: win.ms };
  })();
  return seaPromise;
}

function hashTree(hash: ReturnType<typeof createHash>, path: string): void {
  const st = statSync(path);
  if (st.isDirectory()) {
    for (const entry of readdirSync(path).sort()) {
      hash.update(`${entry}\0`);
      hashTree(hash, join(path, entry));
    }
  } else {
    hash.update(readFileSync(path));
  }
}

/**
 * An installer built from these inputs, reused while none of them changed: the upgrader exe,
 * the payload, installer-hooks' sources and the installers/ scripts, and the description.
 * makensis compresses the 85 MB upgrader in ~15 s per installer; a rerun skips that.
 */
export async function cachedInstaller(
  kind: 'msi' | 'nsis',
  inputs: { upgraderExe: string; payloadDir: string; description: unknown; variant?: string },
  build: (outFile: string) => Promise<unknown>,
): Promise<string> {
  const hash = createHash('sha256').update(JSON.stringify({ kind, description: inputs.description, variant: inputs.variant ?? '' }));
  for (const path of [
    inputs.upgraderExe,
    inputs.payloadDir,
    join(repoRoot, 'packages/installer-hooks/src'),
    join(repoRoot, 'installers'),
  ]) {
    if (existsSync(path)) hashTree(hash, path);
  }
  const ext = kind === 'msi' ? 'msi' : 'exe';
  const out = join(cacheDir('installers'), `${kind}-${hash.digest('hex').slice(0, 20)}.${ext}`);
  if (existsSync(out)) {
    const now = new Date();
    utimesSync(out, now, now); // most recently used: kept by the pruning below
    return out;
  }
  const partial = join(cacheDir('installers'), `partial-${process.pid}-${Date.now()}.${ext}`);
  const started = Date.now();
  await build(partial);
  renameSync(partial, out);
  process.stderr.write(`[wine] built ${kind} ${out} in ${Date.now() - started} ms\n`);
  pruneInstallers(kind, 6);
  return out;
}

/** Each is ~85 MB (the upgrader inside): keep the newest few of a kind, drop the rest. */
function pruneInstallers(kind: string, keep: number): void {
  const dir = cacheDir('installers');
  const files = readdirSync(dir)
    .filter((name) => name.startsWith(`${kind}-`))
    .map((name) => ({ path: join(dir, name), mtimeMs: statSync(join(dir, name)).mtimeMs }))
    .sort((a, b) => b.mtimeMs - a.mtimeMs);
  for (const old of files.slice(keep)) rmSync(old.path, { force: true });
}
