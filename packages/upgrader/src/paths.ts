import { join } from 'node:path';
import { STATE_DIR } from './installed.js';

/** Everything the upgrader keeps inside an install root, in one place. */
export interface StatePaths {
  root: string;
  state: string;
  lock: string;
  journal: string;
  installed: string;
  staging: string;
  swapBackup: string;
  backup: string;
  backupFiles: string;
  backupMeta: string;
  backupNext: string;
  downloads: string;
  restartLog: string;
}

export function statePaths(root: string): StatePaths {
  const state = join(root, STATE_DIR);
  return {
    root,
    state,
    lock: join(state, 'lock'),
    journal: join(state, 'journal.json'),
    installed: join(state, 'installed.json'),
    staging: join(state, 'staging'),
    swapBackup: join(state, 'swap-backup'),
    backup: join(state, 'backup'),
    backupFiles: join(state, 'backup', 'files'),
    backupMeta: join(state, 'backup', 'meta.json'),
    backupNext: join(state, 'backup.next'),
    downloads: join(state, 'downloads'),
    restartLog: join(state, 'restart.log'),
  };
}

export const MANIFEST_NAME = 'llm-upgrade.json';
export const SIGNATURE_NAME = 'llm-upgrade.json.sig';

/**
 * Why an archive/manifest path is unsafe, or null when it is a plain relative POSIX path that
 * stays under the root. We refuse rather than sanitise: a package that needs sanitising is not
 * the package its author signed.
 */
export function unsafePathReason(path: string): string | null {
  if (path.length === 0) return 'empty path';
  if (path.includes('\0')) return 'NUL byte in path';
  if (path.includes('\\')) return 'backslash in path (ambiguous on Windows)';
  if (path.startsWith('/')) return 'absolute path';
  if (/^[A-Za-z]:/.test(path) || path.includes(':')) return 'drive letter or colon in path';
  const parts = path.split('/');
  for (const part of parts) {
    if (part === '..') return 'path contains ".."';
    if (part === '' || part === '.') return 'empty or "." path segment';
  }
  if (parts[0] === STATE_DIR) return `path inside the upgrader's own ${STATE_DIR}/ directory`;
  return null;
}

/**
 * A link target is safe when, resolved from the link's directory, it cannot leave the root even
 * if other links are involved: only leading ".." segments (which walk up real directories, since
 * nothing may live under a link) followed by plain names, never more ".." than the link's depth.
 */
export function unsafeLinkReason(linkPath: string, target: string): string | null {
  if (target.length === 0) return 'empty link target';
  if (target.includes('\0') || target.includes('\\')) return 'link target has NUL or backslash';
  if (target.startsWith('/') || /^[A-Za-z]:/.test(target)) return `link target "${target}" is absolute`;
  const depth = linkPath.split('/').length - 1;
  let ups = 0;
  let seenName = false;
  for (const part of target.split('/')) {
    if (part === '' || part === '.') return `link target "${target}" has an empty or "." segment`;
    if (part === '..') {
      if (seenName) return `link target "${target}" has ".." after a name (could climb through another link)`;
      ups++;
    } else seenName = true;
  }
  if (ups > depth) return `link target "${target}" leaves the root`;
  if (!seenName) return `link target "${target}" points at a directory above the link`;
  return null;
}

/** Case-folded key used to refuse entries that would collide on case-insensitive file systems. */
export function collisionKey(path: string): string {
  return path.normalize('NFC').toLowerCase();
}
