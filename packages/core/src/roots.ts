import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import * as errors from './error-factories.js';
import type { Phase } from './errors.js';
import { currentOs } from './platform/index.js';
import { assertRootsNotTooBroad, type RootGuardContext } from './root-guard.js';

/** Home directories of root and of real (uid ≥ 1000) users from /etc/passwd: each is refused as a root. */
function passwdHomes(): string[] {
  try {
    const out: string[] = [];
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      const uid = Number(f[2]);
      const home = f[5];
      if (home?.startsWith('/') && (uid === 0 || (uid >= 1000 && uid < 65534))) out.push(home);
    }
    return out;
  } catch {
    return [];
  }
}

/** This machine's facts for rootTooBroadReason: OS, environment, users' homes. */
export function localRootGuardContext(env: NodeJS.ProcessEnv = process.env): RootGuardContext {
  const os = currentOs();
  const homes = [homedir(), ...(os === 'win32' ? [] : passwdHomes())].filter((h) => h !== '');
  return { os, env, homes };
}

/**
 * Absolute, symlink-resolved roots (the OS reports resolved paths for exe, fds and maps). A root
 * that does not exist yet is kept as given, resolved against the working directory (apply of a
 * fresh install; commands that need an existing root call assertRootsExist). Roots that are too
 * broad (`/`, system directories, homes, or an ancestor of one) are refused with ERR_ROOT_TOO_BROAD.
 */
export function resolveRoots(roots: readonly string[], phase: Phase, guard: RootGuardContext = localRootGuardContext()): string[] {
  if (roots.length === 0) {
    throw errors.usageError({
      message: 'no install root given',
      hint: 'Pass --install-dir PATH (repeatable) or --profile NAME|FILE.',
      phase,
      changed: false,
    });
  }
  const out: string[] = [];
  for (const root of roots) {
    if (root.trim() === '') {
      throw errors.usageError({
        message: 'an install root is an empty string',
        hint: 'Pass --install-dir with a path.',
        phase,
        changed: false,
      });
    }
    const abs = resolve(root);
    let real = abs;
    try {
      real = realpathSync.native(abs);
    } catch {
      // missing root (a fresh install): nothing can run from it, keep the path
    }
    if (!out.includes(real)) out.push(real);
  }
  // Both the name given and what it resolves to: a symlink to `/usr` is as broad as `/usr`.
  assertRootsNotTooBroad([...roots.map((r) => resolve(r)), ...out], phase, guard);
  return out;
}

/** Throws ERR_NO_SUCH_ROOT naming the first root that does not exist (every command but apply of a fresh install). */
export function assertRootsExist(roots: readonly string[], phase: Phase): void {
  for (const root of roots) {
    if (existsSync(root)) continue;
    throw errors.noSuchRootError({
      message: `install root ${root} does not exist`,
      hint: 'Check the path given to --install-dir (a typo?); only `apply` installs into a directory that does not exist yet.',
      phase,
      changed: false,
      details: { root },
    });
  }
}

/** The roots plus the other paths they are reachable by (bind mounts): what scope and holder matching compare against. */
export function withAliases(roots: readonly string[], backend: { rootAliases?(roots: readonly string[]): string[] }): string[] {
  const aliases = backend.rootAliases?.(roots) ?? [];
  return aliases.length === 0 ? [...roots] : [...roots, ...aliases.filter((a) => !roots.includes(a))];
}
