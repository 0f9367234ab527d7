import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const SEA_DIR = join(REPO_ROOT, 'out', 'sea');

interface SeaResult {
  target: string;
  file: string;
  bytes: number;
  sha256: string;
  reused: boolean;
}

/**
 * Builds (or reuses, when the bundle and pins are unchanged) the single executables in
 * out/sea with the same code as `node tools/build-sea.mjs`.
 */
export async function ensureSea(): Promise<{ linux: string; win32: string; results: SeaResult[]; cacheDir: string }> {
  const mod = (await import(join(REPO_ROOT, 'tools/lib/sea/build.mjs'))) as {
    buildSea(o: { repoRoot: string; outDir: string }): Promise<{ results: SeaResult[] }>;
    defaultCacheDir(root: string): string;
    SEA_FILE_NAMES: Record<string, string>;
  };
  const r = await mod.buildSea({ repoRoot: REPO_ROOT, outDir: SEA_DIR });
  return {
    linux: join(SEA_DIR, mod.SEA_FILE_NAMES['linux-x64']!),
    win32: join(SEA_DIR, mod.SEA_FILE_NAMES['win32-x64']!),
    results: r.results,
    cacheDir: mod.defaultCacheDir(REPO_ROOT),
  };
}

/** A linux-only SEA of another entry, bundled like the CLI (for probing the bundle's shims). */
export async function buildProbeSea(entry: string, outDir: string): Promise<string> {
  const mod = (await import(join(REPO_ROOT, 'tools/lib/sea/build.mjs'))) as {
    buildSea(o: { repoRoot: string; outDir: string; targets: string[]; entry: string }): Promise<{ results: SeaResult[] }>;
  };
  const r = await mod.buildSea({ repoRoot: REPO_ROOT, outDir, targets: ['linux-x64'], entry });
  return r.results[0]!.file;
}
