// The one rule for roots that are too broad to be an install: a system directory, a home, a
// temp dir, or an ancestor of any of them. Pure over (root, os, env, homes) so every OS's rule
// is unit-tested anywhere; resolveRoots applies it for every command.
import { posix, win32 } from 'node:path';
import * as errors from './error-factories.js';
import type { Phase } from './errors.js';
import { isUnderRoot } from './scope.js';

export type GuardOs = 'linux' | 'win32' | 'darwin';

export interface RootGuardContext {
  os: GuardOs;
  env: Readonly<Record<string, string | undefined>>;
  /** Home directories of real users (our own included); each is refused, and so are its ancestors. */
  homes?: readonly string[];
}

const POSIX_SYSTEM = [
  '/usr',
  '/usr/bin',
  '/usr/sbin',
  '/usr/lib',
  '/usr/lib32',
  '/usr/lib64',
  '/usr/libexec',
  '/usr/share',
  '/usr/local',
  '/usr/local/bin',
  '/usr/local/sbin',
  '/usr/local/lib',
  '/usr/local/share',
  '/bin',
  '/sbin',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/etc',
  '/var',
  '/var/tmp',
  '/opt',
  '/home',
  '/root',
  '/tmp',
  '/boot',
  '/dev',
  '/proc',
  '/sys',
  '/run',
  '/srv',
  '/mnt',
  '/media',
];
const DARWIN_SYSTEM = [
  '/Applications',
  '/System',
  '/Library',
  '/Users',
  '/Volumes',
  '/private',
  '/private/tmp',
  '/private/var',
  '/private/etc',
];

/** Directories whose direct children are users' homes. */
const POSIX_HOME_PARENTS = ['/home'];
const DARWIN_HOME_PARENTS = ['/Users'];

function winKey(p: string): string {
  const n = win32.normalize(p).toLowerCase();
  return n.length > 3 && n.endsWith('\\') ? n.slice(0, -1) : n;
}

function windowsProtected(env: RootGuardContext['env']): string[] {
  const drive = (env.SystemDrive ?? 'C:').replace(/[\\/]+$/, '');
  const out = [`${drive}\\Windows`, `${drive}\\Program Files`, `${drive}\\Program Files (x86)`, `${drive}\\ProgramData`, `${drive}\\Users`];
  for (const name of [
    'SystemRoot',
    'windir',
    'ProgramFiles',
    'ProgramFiles(x86)',
    'ProgramW6432',
    'ProgramData',
    'LOCALAPPDATA',
    'APPDATA',
    'USERPROFILE',
    'PUBLIC',
    'TEMP',
    'TMP',
  ]) {
    const v = env[name];
    if (v && /^[a-zA-Z]:[\\/]/.test(v)) out.push(v);
  }
  // The shared folder per-user installs live in (Ollama installs to %LOCALAPPDATA%\Programs\Ollama).
  if (env.LOCALAPPDATA) out.push(`${env.LOCALAPPDATA}\\Programs`);
  return out;
}

function windowsReason(root: string, ctx: RootGuardContext): string | null {
  const r = winKey(root);
  if (/^[a-z]:\\?$/.test(r) || /^\\\\[^\\]+\\[^\\]+$/.test(r)) return `${root} is the root of a drive or share`;
  if (/^[a-z]:\\program files[^\\]*$/.test(r)) return `${root} is a system directory`;
  if (/^[a-z]:\\users\\[^\\]+$/.test(r)) return `${root} is a user profile`;
  for (const p of [...windowsProtected(ctx.env), ...(ctx.homes ?? [])]) {
    const k = winKey(p);
    if (k === r) return `${root} is a system or user directory`;
    if (isUnderRoot(k, r)) return `${root} contains ${p}`;
  }
  return null;
}

function posixReason(root: string, ctx: RootGuardContext): string | null {
  const r = posix.normalize(root).replace(/(.)\/+$/, '$1');
  if (r === '/') return '/ is the whole file system';
  const system = ctx.os === 'darwin' ? [...POSIX_SYSTEM, ...DARWIN_SYSTEM] : POSIX_SYSTEM;
  const homeParents = ctx.os === 'darwin' ? [...POSIX_HOME_PARENTS, ...DARWIN_HOME_PARENTS] : POSIX_HOME_PARENTS;
  const caseFold = ctx.os === 'darwin' ? (p: string) => p.toLowerCase() : (p: string) => p;
  const key = caseFold(r);
  if (homeParents.some((h) => posix.dirname(key) === caseFold(h))) return `${root} is a user's home directory`;
  const homes = [...(ctx.homes ?? []), ...(ctx.env.HOME ? [ctx.env.HOME] : [])].filter((h) => h.startsWith('/') && h !== '/');
  for (const h of homes) {
    const k = caseFold(posix.normalize(h).replace(/(.)\/+$/, '$1'));
    if (k === key) return `${root} is a user's home directory`;
    if (isUnderRoot(k, key)) return `${root} contains the home directory ${h}`;
  }
  for (const s of system) {
    const k = caseFold(s);
    if (k === key) return `${root} is a system directory`;
    if (isUnderRoot(k, key)) return `${root} contains the system directory ${s}`;
  }
  return null;
}

/**
 * Why `root` (absolute, resolved) is too broad to be an install, or null when it is fine: `/`,
 * a system directory, a temp dir itself, a user's home, or an ancestor of any of these. A file
 * such as `/usr/local/bin/ollama` or a directory below them (`/opt/ollama`) is fine.
 */
export function rootTooBroadReason(root: string, ctx: RootGuardContext): string | null {
  return ctx.os === 'win32' ? windowsReason(root, ctx) : posixReason(root, ctx);
}

/** Throws ERR_ROOT_TOO_BROAD for the first root rootTooBroadReason refuses. */
export function assertRootsNotTooBroad(roots: readonly string[], phase: Phase, ctx: RootGuardContext): void {
  for (const root of roots) {
    const why = rootTooBroadReason(root, ctx);
    if (why === null) continue;
    throw errors.rootTooBroadError({
      message: `refusing install root ${root}: ${why}`,
      hint: 'Name the install itself, e.g. --install-dir /opt/ollama or --install-dir /usr/local/bin/ollama (a single file is fine).',
      phase,
      changed: false,
      details: { root, why },
    });
  }
}
