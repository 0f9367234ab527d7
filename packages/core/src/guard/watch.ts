// `watch`: a long-running, cheap watcher of one install that ends orphaned engines as soon as
// their frontend dies. Every in-scope process with in-scope children is watched for exit
// (Linux: a pidfd each, poll() on a koffi worker thread; elsewhere: the rescan alone); a slow
// rescan (default 2 s, an incremental /proc read on Linux) discovers new processes, re-resolves
// the roots (an upgrade may have moved them) and catches anything the events missed. Acting is
// core's sweep, restricted to processes whose parent is really gone.
import { getBackend, getGuardBackend } from '../platform/index.js';
import { ollamaProfile } from '../profile.js';
import { resolveRoots } from '../roots.js';
import { classify, isUnderAnyRoot, withDescendants } from '../scope.js';
import { sweep } from '../sweep.js';
import type { CoreEvent, GpuUsage, Profile, ScopedProcess, StoppedProcess } from '../types.js';
import { recordParents, splitOrphans, type ParentHistory } from './orphans.js';
import type { WatchSnapshot } from './types.js';
import { DEFAULTS } from '../defaults.js';

export type WatchEvent =
  | { type: 'watching'; roots: string[]; mode: 'pidfd' | 'kqueue' | 'handles' | 'poll'; watched: number }
  | { type: 'parent-exit'; pids: number[] }
  | { type: 'orphans'; pids: number[] }
  | { type: 'swept'; stopped: Pick<StoppedProcess, 'pid' | 'name' | 'how'>[]; freedMiB: number | null; durationMs: number }
  | { type: 'skipped'; reason: string }
  | { type: 'warning'; message: string };

export interface WatchOptions {
  /** Install roots, or a function re-run on every rescan (default roots move when an upgrade does). */
  roots: readonly string[] | (() => Promise<readonly string[]>);
  profile?: Profile;
  /** Grace between SIGTERM and the force when ending orphans. Default 2 s. */
  graceMs?: number;
  /** How often new processes are discovered. Default 2 s. */
  rescanMs?: number;
  /** How often every known process is re-read too (parents, names, pid reuse). Default 60 s; any exit event forces one. */
  fullRescanMs?: number;
  /** Ends the watch (the CLI aborts it on SIGTERM/SIGINT/SIGHUP). */
  signal: AbortSignal;
  /** Runs `act` holding the install's lock; returns undefined when another upgrader holds it (skip this round). */
  withLock?: <T>(roots: readonly string[], act: () => Promise<T>) => Promise<T | undefined>;
  onEvent?: (event: WatchEvent | CoreEvent) => void;
}

export interface WatchSummary {
  rounds: number;
  sweeps: number;
  stopped: number;
  freedMiB: number;
  mode: 'pidfd' | 'kqueue' | 'handles' | 'poll';
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

const usedMiB = (g: readonly GpuUsage[]) => g.reduce((s, x) => s + x.usedMiB, 0);

/** Runs until `signal` aborts; never throws for a failed round (it is reported and retried). */
export async function watchInstall(opts: WatchOptions): Promise<WatchSummary> {
  const emit = (e: WatchEvent | CoreEvent) => opts.onEvent?.(e);
  const guard = await getGuardBackend();
  const backend = await getBackend();
  const pathKey = (p: string) => backend.pathKey(p);
  const snapshot = guard.watchSnapshot();
  const waiter = guard.exitWaiter();
  const mode = waiter?.mode ?? 'poll';
  const profile = opts.profile ?? ollamaProfile;
  const rescanMs = opts.rescanMs ?? DEFAULTS.watchRescanMs;
  const history: ParentHistory = new Map();
  const summary: WatchSummary = { rounds: 0, sweeps: 0, stopped: 0, freedMiB: 0, mode };
  const resolveNow = async () => resolveRoots(typeof opts.roots === 'function' ? await opts.roots() : opts.roots, 'sweep');
  let lastRoots = '';

  const act = async (roots: string[], gone: ScopedProcess[], all: ScopedProcess[], parented: ScopedProcess[]) => {
    emit({ type: 'orphans', pids: gone.map((p) => p.pid) });
    const started = Date.now();
    // Orphans by classify's rule whose parent is alive (a shell) stay, with their subtrees.
    const keep = withDescendants(all, parented).map((p) => p.pid);
    const run = () => sweep({ roots, profile, graceMs: opts.graceMs, protectPids: keep, onEvent: emit });
    const result = opts.withLock ? await opts.withLock(roots, run) : await run();
    if (!result) {
      emit({ type: 'skipped', reason: 'another upgrader holds the lock; its stop ends the orphans' });
      return;
    }
    const freed = result.gpu ? usedMiB(result.gpu.before) - usedMiB(result.gpu.after) : null;
    const stopped = result.stopped.map(({ pid, name, how }) => ({ pid, name, how }));
    summary.sweeps++;
    summary.stopped += stopped.length;
    summary.freedMiB += freed ?? 0;
    emit({ type: 'swept', stopped, freedMiB: freed, durationMs: Date.now() - started });
  };

  const fullEveryMs = opts.fullRescanMs ?? DEFAULTS.watchFullRescanMs;
  let lastFull = 0;
  let forceFull = true;
  let all: ScopedProcess[] = [];
  let inScope = new Set<number>();
  // A quick pass re-classifies only when a change can touch the install: a new process whose
  // exe is under a root or whose parent is in scope, or an in-scope process that went. Other
  // programs starting and ending on the machine cost one /proc listing.
  const mayConcernScope = (snap: WatchSnapshot, roots: readonly string[]): boolean => {
    if (!snap.changed) return false;
    if (!snap.added || !snap.removed) return true;
    if (snap.removed.some((pid) => inScope.has(pid))) return true;
    return snap.added.some((p) => inScope.has(p.ppid) || (p.exe !== null && isUnderAnyRoot(p.exe, roots, pathKey)));
  };
  try {
    while (!opts.signal.aborted) {
      summary.rounds++;
      try {
        const roots = await resolveNow();
        const rootsKey = roots.join('\0');
        const full = forceFull || Date.now() - lastFull >= fullEveryMs || rootsKey !== lastRoots;
        forceFull = false;
        if (full) lastFull = Date.now();
        const snap = await snapshot(full);
        if (full || rootsKey !== lastRoots || mayConcernScope(snap, roots)) {
          recordParents(history, snap.processes);
          all = classify(snap, roots, profile, pathKey);
          inScope = new Set(all.filter((p) => p.inScope).map((p) => p.pid));
          const { gone, parented } = splitOrphans(all, history);
          if (gone.length > 0) {
            await act(roots, gone, all, parented);
            forceFull = true;
          }
          // Watch every parent of an in-scope process (in scope or not, a shell included): its
          // exit is the moment its children are orphaned.
          const parents = new Set(all.filter((p) => p.inScope && p.ppid > 1).map((p) => p.ppid));
          const watched = all.filter((p) => parents.has(p.pid) && p.pid !== process.pid);
          waiter?.watch(watched);
          if (rootsKey !== lastRoots) {
            lastRoots = rootsKey;
            emit({ type: 'watching', roots, mode, watched: watched.length });
          }
        }
      } catch (e) {
        forceFull = true;
        emit({ type: 'warning', message: `watch round failed: ${(e as Error).message}` });
      }
      if (opts.signal.aborted) break;
      if (waiter && waiter.size > 0) {
        const waitStart = Date.now();
        const exited = await waiter.wait(rescanMs, opts.signal);
        // A wait that failed at once must not turn the loop into a busy one.
        if (exited.length === 0 && !opts.signal.aborted && Date.now() - waitStart < rescanMs / 2)
          await sleep(rescanMs - (Date.now() - waitStart), opts.signal);
        if (exited.length > 0) {
          emit({ type: 'parent-exit', pids: exited });
          forceFull = true;
        }
      } else await sleep(rescanMs, opts.signal);
    }
  } finally {
    waiter?.close();
  }
  return summary;
}
