import { existsSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { STATE_DIR } from './installed.js';

/**
 * Where an install's files are laid and its state is kept.
 *
 * A directory root (`/opt/ollama`) is the whole install: the package is laid onto it and the
 * state lives in `<root>/.llm-upgrade`. A *prefix layout* (install.sh's `/usr/local/bin/ollama`
 * file plus `/usr/local/lib/ollama` directory) is one install too: packages are laid onto the
 * roots' common prefix (`/usr/local`), only the roots themselves (`bin/ollama`, `lib/ollama`)
 * are moved by the swap, and the state lives in `<prefix>/.llm-upgrade`, never in a shared `bin/`.
 */
export interface InstallLayout {
  /** The directory packages are laid onto; its `.llm-upgrade/` holds journal, lock, backups, staging. */
  base: string;
  /** The roots relative to `base` (POSIX), for a prefix layout; null when the base directory is the install. */
  units: string[] | null;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function commonAncestor(paths: string[]): string {
  let common = paths[0]!;
  for (const p of paths.slice(1)) {
    while (common !== p && !p.startsWith(common.endsWith(sep) ? common : common + sep)) {
      const up = dirname(common);
      if (up === common) return common;
      common = up;
    }
  }
  return common;
}

/** The prefix a set of roots shares, strictly above each of them (so a lone file root gets its directory's parent: never `bin/`). */
export function prefixOf(roots: readonly string[]): string {
  let base = commonAncestor(roots.map((r) => dirname(r)));
  // A bin/ directory is shared with every other tool: keep the state and the swap above it.
  if (roots.some((r) => dirname(r) === base) && roots.some((r) => !isDirectory(r))) base = dirname(base);
  return base;
}

/**
 * The layout of absolute, resolved roots. A prefix layout when the first root is an existing
 * file, or, while a transaction has moved it aside, when the prefix's state directory exists
 * for roots that are not directories themselves.
 */
export function installLayout(roots: readonly string[]): InstallLayout {
  const first = roots[0]!;
  if (isDirectory(first)) return { base: first, units: null };
  const prefixed = existsSync(first) || (roots.length > 1 && existsSync(join(prefixOf(roots), STATE_DIR)));
  if (!prefixed) return { base: first, units: null };
  const base = prefixOf(roots);
  return { base, units: roots.map((r) => relative(base, r).split(sep).join('/')) };
}

/** Whether a POSIX relative path lies inside one of the units (or is a directory above one, like `bin`). */
export function placeInUnits(path: string, units: readonly string[]): 'inside' | 'above' | 'outside' {
  for (const u of units) if (path === u || path.startsWith(`${u}/`)) return 'inside';
  for (const u of units) if (u.startsWith(`${path}/`)) return 'above';
  return 'outside';
}
