import { posix, win32 } from 'node:path';
import type { ProcessInfo, ProcessRole, Profile, ScopedProcess, Snapshot } from './types.js';

export type PathKey = (path: string) => string;

const identity: PathKey = (p) => p;

function isWindowsPath(p: string): boolean {
  return /^[a-zA-Z]:[\\/]/.test(p) || p.startsWith('\\\\');
}

/** Normalises `.`, `..` and repeated separators, and drops a trailing separator (but keeps `/` and `C:\`). */
function normalise(p: string): string {
  if (isWindowsPath(p)) {
    const n = win32.normalize(p);
    return n.length > 3 && /[\\/]$/.test(n) ? n.slice(0, -1) : n;
  }
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/**
 * True when `path` is `root` itself or lies below it: `/opt/ollama2` is not under `/opt/ollama`.
 * A root may be a single file. Windows paths accept both separators; POSIX paths only `/`
 * (a backslash is an ordinary file-name character there).
 */
export function isUnderRoot(path: string, root: string, pathKey: PathKey = identity): boolean {
  const p = pathKey(normalise(path));
  const r = pathKey(normalise(root));
  if (p === r) return true;
  if (!p.startsWith(r)) return false;
  const windows = isWindowsPath(root);
  if (r.endsWith('/') || (windows && r.endsWith('\\'))) return true; // `/` or `C:\`
  const next = p.charAt(r.length);
  return next === '/' || (windows && next === '\\');
}

export function isUnderAnyRoot(path: string, roots: readonly string[], pathKey: PathKey = identity): boolean {
  return roots.some((r) => isUnderRoot(path, r, pathKey));
}

function baseName(p: string): string {
  const i = Math.max(p.lastIndexOf('/'), p.lastIndexOf('\\'));
  return (i >= 0 ? p.slice(i + 1) : p).replace(/\.exe$/i, '');
}

const ROLES: readonly Exclude<ProcessRole, 'other'>[] = ['supervisor', 'server', 'engine'];

/**
 * Role from the profile's names. A name with a space whose first word is a binary and second a
 * first argument (`ollama runner`) matches that binary started with that argument, before the
 * plain binary name does (`ollama` = server). Exact case wins over case-insensitive, so macOS's
 * `Ollama` (tray app) and `ollama` (server) stay apart.
 */
export function roleOf(proc: Pick<ProcessInfo, 'name' | 'exe' | 'cmdline'>, profile: Pick<Profile, 'processes'> | undefined): ProcessRole {
  if (!profile) return 'other';
  const base = baseName(proc.exe ?? proc.name);
  const lists = ROLES.map((role) => [role, profile.processes[role]] as const);
  for (const [role, names] of lists) {
    for (const name of names) {
      const space = name.indexOf(' ');
      if (space < 0 || name.slice(0, space).toLowerCase() !== base.toLowerCase()) continue;
      // The command line only when the binary matches: reading it costs a /proc read (Linux).
      if (name.slice(space + 1) === proc.cmdline[1]) return role;
    }
  }
  for (const [role, names] of lists) if (names.includes(base)) return role;
  // Case-insensitive last; when that is ambiguous (`OLLAMA.EXE` vs `Ollama`/`ollama`) the server wins.
  for (const role of ['server', 'engine', 'supervisor'] as const) {
    if (profile.processes[role].some((n) => n.toLowerCase() === base.toLowerCase())) return role;
  }
  return 'other';
}

function isLive(p: ProcessInfo): boolean {
  return p.state !== 'Z' && p.state !== 'X';
}

/**
 * A copy that keeps fields a backend reads on first use (Linux: cmdline, user) unread: a spread
 * would read them for every process. Field by field into one literal (copying descriptors makes
 * slow dictionary objects, a few ms per 1,000 processes); a new ProcessInfo field goes here too.
 */
function copyLazily(p: ProcessInfo): ProcessInfo {
  const copy: ProcessInfo = {
    pid: p.pid,
    ppid: p.ppid,
    name: p.name,
    exe: p.exe,
    get cmdline() {
      return p.cmdline;
    },
    set cmdline(v: string[]) {
      p.cmdline = v;
    },
    startTime: p.startTime,
    startKey: p.startKey,
    get user() {
      return p.user;
    },
    set user(v: string | null) {
      p.user = v;
    },
  };
  if (p.exeDeleted !== undefined) copy.exeDeleted = p.exeDeleted;
  if (p.state !== undefined) copy.state = p.state;
  if (p.threads !== undefined) copy.threads = p.threads;
  if (p.liveTask !== undefined) copy.liveTask = p.liveTask;
  return copy;
}

/** True when `a` started strictly after `b` (Linux ticks and Windows FILETIMEs compare exactly; else milliseconds). */
function startedAfter(a: ProcessInfo, b: ProcessInfo): boolean {
  if (/^\d+$/.test(a.startKey) && /^\d+$/.test(b.startKey)) return BigInt(a.startKey) > BigInt(b.startKey);
  return a.startTime > b.startTime;
}

/**
 * Whether p's parent is gone: p was reparented. The parent pid is no live process (Windows
 * reports a dead or reused parent as ppid 0), or it is PID 1 (init, which adopts orphans), or a
 * subreaper that adopted it (a parent that started after its child cannot have started it).
 * A live parent that started before (a shell, a job runner, any program) is the real parent.
 */
function parentGone(p: ProcessInfo, byPid: ReadonlyMap<number, ProcessInfo>): boolean {
  if (p.ppid <= 0 || p.ppid === 1) return true;
  const parent = byPid.get(p.ppid);
  return parent === undefined || parent.pid === p.pid || startedAfter(parent, p);
}

/** The scope rule's walk: a process is in scope when its exe lies under a root or a live ancestor's does. */
function scopeWalk(live: readonly ProcessInfo[], roots: readonly string[], pathKey: PathKey) {
  const byPid = new Map(live.map((p) => [p.pid, p]));
  const exeInRoot = new Map(live.map((p) => [p.pid, p.exe !== null && isUnderAnyRoot(p.exe, roots, pathKey)]));
  const inScope = new Map<number, boolean>();

  const scopeOf = (start: ProcessInfo): boolean => {
    const chain: number[] = [];
    let cur: ProcessInfo | undefined = start;
    let found = false;
    while (cur && !inScope.has(cur.pid) && !chain.includes(cur.pid)) {
      chain.push(cur.pid);
      if (exeInRoot.get(cur.pid)) {
        found = true;
        break;
      }
      cur = cur.ppid > 0 && cur.ppid !== cur.pid ? byPid.get(cur.ppid) : undefined;
    }
    if (!found && cur && inScope.has(cur.pid)) found = inScope.get(cur.pid) ?? false;
    // Every process on the walked chain below an in-scope one is in scope as well.
    for (const pid of chain) inScope.set(pid, found);
    return found;
  };
  return { byPid, exeInRoot, inScope, scopeOf };
}

/**
 * The pids classify() puts in scope, without roles, orphans or copies: what a holder scan needs
 * (roles read every in-scope process's command line).
 */
export function inScopePids(snapshot: Pick<Snapshot, 'processes'>, roots: readonly string[], pathKey: PathKey = identity): Set<number> {
  const live = snapshot.processes.filter(isLive);
  const { scopeOf } = scopeWalk(live, roots, pathKey);
  const out = new Set<number>();
  for (const p of live) if (scopeOf(p)) out.add(p.pid);
  return out;
}

/**
 * Sees every live process through an install's scope: in scope when its executable lies under
 * a root (never by name alone) or when a live ancestor's does. An orphan is in scope, has no
 * in-scope parent, is not itself a top-level supervisor or server (the healthy roots of the
 * forest), and its parent is gone (parentGone): an engine started from a live shell is not one.
 * Zombies are gone and left out (a zombie leader with live threads is reported live by the backend).
 */
export function classify(
  snapshot: Pick<Snapshot, 'processes'>,
  roots: readonly string[],
  profile: Pick<Profile, 'processes'> | undefined,
  pathKey: PathKey = identity,
): ScopedProcess[] {
  const live = snapshot.processes.filter(isLive);
  const { byPid, exeInRoot, inScope, scopeOf } = scopeWalk(live, roots, pathKey);
  return live.map((p): ScopedProcess => {
    const scoped = scopeOf(p);
    const parent = byPid.get(p.ppid);
    const parentInScope = parent !== undefined && parent.pid !== p.pid && (inScope.get(parent.pid) ?? scopeOf(parent));
    const role = scoped ? roleOf(p, profile) : 'other';
    const topLevel = role === 'supervisor' || role === 'server';
    return Object.assign(copyLazily(p), {
      role,
      inScope: scoped,
      orphan: scoped && !parentInScope && !topLevel && parentGone(p, byPid),
      ...(scoped ? { reason: exeInRoot.get(p.pid) ? ('exe' as const) : ('descendant' as const) } : {}),
    });
  });
}

/** The given processes plus every live descendant of them (used by sweep: orphans and their subtrees). */
export function withDescendants(all: readonly ScopedProcess[], rootsOfTree: readonly ScopedProcess[]): ScopedProcess[] {
  const children = new Map<number, ScopedProcess[]>();
  for (const p of all) {
    const list = children.get(p.ppid) ?? [];
    list.push(p);
    children.set(p.ppid, list);
  }
  const out = new Map<number, ScopedProcess>();
  const queue = [...rootsOfTree];
  while (queue.length > 0) {
    const p = queue.pop() as ScopedProcess;
    if (out.has(p.pid)) continue;
    out.set(p.pid, p);
    for (const c of children.get(p.pid) ?? []) if (c.pid !== p.pid) queue.push(c);
  }
  return [...out.values()];
}
