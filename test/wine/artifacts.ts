// What the wine tests run inside the prefix, built or fetched once and cached: the pinned
// Windows Node 22 and koffi (through tools/lib/sea's pinned, sha256-checked fetch, sharing its
// cache with the SEA build), the core bundled for Windows with a small driver, and the win32
// single executable (tools/build-sea.mjs, which reuses an up-to-date build).
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { cacheDir } from './fixtures.js';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

type FetchPinned = (key: string, cacheDir: string, options?: { log?: (m: string) => void }) => Promise<string>;
interface SeaBuildResult {
  results: Array<{ target: string; file: string; reused: boolean; ms: number }>;
}
type BuildSea = (options: { repoRoot: string; targets: string[]; log?: (m: string) => void }) => Promise<SeaBuildResult>;

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
    plugins: [otherPlatformsOptional],
    banner: { js: `const __wineDriverImportMetaUrl = require('node:url').pathToFileURL(__filename).href;` },
  });
  renameSync(partial, out);
  return out;
}

/**
 * platform/index.ts imports every backend lazily; only win32's runs here. A backend another
 * helper has not written yet (darwin.ts) must not stop the Windows bundle from building.
 */
const otherPlatformsOptional: Plugin = {
  name: 'other-platforms-optional',
  setup(b) {
    b.onResolve({ filter: /^\.\/(darwin|linux)\.js$/ }, (args) => {
      const source = join(args.resolveDir, args.path.replace(/\.js$/, '.ts'));
      return existsSync(source) ? undefined : { path: args.path, external: true };
    });
  },
};

let seaPromise: Promise<{ exe: string; built: boolean; ms: number }> | undefined;

/** out/sea/llm-upgrade-win32-x64.exe, built (or found up to date) by tools/lib/sea once per run. */
export function windowsSea(): Promise<{ exe: string; built: boolean; ms: number }> {
  seaPromise ??= (async () => {
    const { buildSea } = await seaTools();
    const r = await buildSea({ repoRoot, targets: ['win32-x64'], log: (m) => process.stderr.write(`[wine] [build-sea] ${m}\n`) });
    const win = r.results.find((x) => x.target === 'win32-x64');
    if (!win) throw new Error('build-sea produced no win32-x64 executable');
    return { exe: win.file, built: !win.reused, ms: win.ms };
  })();
  return seaPromise;
}

export function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
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
  for (const path of [inputs.upgraderExe, inputs.payloadDir, join(repoRoot, 'packages/installer-hooks/src'), join(repoRoot, 'installers')]) {
    if (existsSync(path)) hashTree(hash, path);
  }
  const ext = kind === 'msi' ? 'msi' : 'exe';
  const out = join(cacheDir('installers'), `${kind}-${hash.digest('hex').slice(0, 20)}.${ext}`);
  if (existsSync(out)) return out;
  const partial = join(cacheDir('installers'), `partial-${process.pid}-${Date.now()}.${ext}`);
  const started = Date.now();
  await build(partial);
  renameSync(partial, out);
  process.stderr.write(`[wine] built ${kind} ${out} in ${Date.now() - started} ms\n`);
  return out;
}
