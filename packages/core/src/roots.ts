import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { LlmUpgradeError } from './errors.js';
import type { Phase } from './errors.js';

/**
 * Absolute, symlink-resolved roots (the OS reports resolved paths for exe, fds and maps). A root
 * that does not exist yet is kept as given, resolved against the working directory.
 */
export function resolveRoots(roots: readonly string[], phase: Phase): string[] {
  if (roots.length === 0) {
    throw new LlmUpgradeError({
      code: 'ERR_USAGE',
      message: 'no install root given',
      hint: 'Pass --install-dir PATH (repeatable) or --profile NAME|FILE.',
      phase,
      changed: false,
    });
  }
  const out: string[] = [];
  for (const root of roots) {
    if (root.trim() === '') {
      throw new LlmUpgradeError({ code: 'ERR_USAGE', message: 'an install root is an empty string', hint: 'Pass --install-dir with a path.', phase, changed: false });
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
  return out;
}
