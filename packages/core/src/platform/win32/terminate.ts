// Ending processes on Windows: taskkill per forest root (with /T), per pid for the rest, and
// TerminateProcess on a verified handle where taskkill cannot help (Wine's taskkill has no /T).
//
// Race-freedom: before anything is sent we open each target and compare its creation time with
// the one we saw. The handle stays open until we are done, and Windows does not reuse the pid
// of a process object someone still holds open, so `taskkill /PID n` and TerminateProcess hit
// exactly the process we checked. Without koffi (CIM fallback) there is no handle: identity is
// re-checked through CIM just before taskkill, which leaves a short window (documented).
import type { ScopedProcess } from '../../types.js';
import type { SignalOutcome } from '../backend.js';
import type { Exec } from '../../exec.js';
import { forestRoots, treeIsSafe } from './forest.js';
import { runTaskkill, type TaskkillOutcome, type TaskkillPidResult } from './taskkill.js';
import {
  ERROR_ACCESS_DENIED,
  ERROR_INVALID_PARAMETER,
  ERROR_SUCCESS,
  PROCESS_QUERY_LIMITED_INFORMATION,
  PROCESS_TERMINATE,
  SYNCHRONIZE,
  type ProcessHandle,
  type WinApi,
} from './winapi.js';

export interface TerminatorDeps {
  /** null in the CIM fallback. */
  api: WinApi | null;
  exec: Exec;
  /** Raw th32ParentProcessID of every live process, read fresh. */
  rawParents(): Promise<Map<number, number>>;
  /** Current identity keys (CIM fallback only; with a WinApi the handle answers). */
  currentKeys(pids: number[]): Promise<Map<number, string | null>>;
}

/** How long to let a process that was just terminated become signalled before asking again. */
const SETTLE_MS = 50;

interface Target {
  proc: ScopedProcess;
  handle: ProcessHandle | null;
  /** The handle may be used for TerminateProcess. */
  canTerminate: boolean;
  outcome?: SignalOutcome;
  /** What taskkill said about this pid (tree or single call). */
  said?: TaskkillPidResult;
}

function identityMatches(handle: ProcessHandle, startKey: string): boolean {
  const created = handle.creationTime();
  return created !== null && created.toString() === startKey;
}

export class Win32Terminator {
  /** Learned on first use: false once taskkill rejects /T (Wine). */
  treeSupported: boolean | undefined;

  constructor(private readonly deps: TerminatorDeps) {}

  /** taskkill without /F: WM_CLOSE to the process' windows, per forest root with /T. */
  requestExit(targets: readonly ScopedProcess[], protectedPids: ReadonlySet<number>): Promise<SignalOutcome[]> {
    return this.round(targets, protectedPids, false);
  }

  /** taskkill /F per forest root with /T, per pid for what remains, TerminateProcess as last resort. */
  forceKill(targets: readonly ScopedProcess[], protectedPids: ReadonlySet<number>): Promise<SignalOutcome[]> {
    return this.round(targets, protectedPids, true);
  }

  private async round(procs: readonly ScopedProcess[], protectedPids: ReadonlySet<number>, force: boolean): Promise<SignalOutcome[]> {
    const results: SignalOutcome[] = [];
    const targets: Target[] = [];
    try {
      for (const proc of procs) {
        if (protectedPids.has(proc.pid)) {
          results.push({ pid: proc.pid, result: 'failed', detail: 'protected: our own process or one of its ancestors' });
          continue;
        }
        const t = this.open(proc, force);
        if (t.outcome) results.push(t.outcome);
        else targets.push(t);
      }
      if (!this.deps.api) {
        await this.verifyThroughCim(targets);
        for (const t of targets) if (t.outcome) results.push(t.outcome);
      }
      const live = targets.filter((t) => !t.outcome);
      await this.killTrees(live, protectedPids, force);
      for (const t of live) {
        if (!t.outcome) await this.finish(t, force);
        results.push(t.outcome ?? { pid: t.proc.pid, result: 'failed', detail: 'no outcome' });
      }
    } finally {
      for (const t of targets) t.handle?.close();
    }
    const byPid = new Map(procs.map((p) => [p.pid, p]));
    return results.map((o) => {
      const process = byPid.get(o.pid);
      return process ? { ...o, process } : o;
    });
  }

  private open(proc: ScopedProcess, force: boolean): Target {
    const t: Target = { proc, handle: null, canTerminate: false };
    const api = this.deps.api;
    if (!api) return t;
    const base = PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE;
    let r = api.openProcess(proc.pid, force ? base | PROCESS_TERMINATE : base);
    if (r.ok) t.canTerminate = force;
    else if (force && r.error === ERROR_ACCESS_DENIED) r = api.openProcess(proc.pid, base);
    if (!r.ok) {
      t.outcome =
        r.error === ERROR_INVALID_PARAMETER
          ? { pid: proc.pid, result: 'gone' }
          : r.error === ERROR_ACCESS_DENIED
            ? { pid: proc.pid, result: 'denied', detail: `OpenProcess(${proc.pid}): access denied` }
            : { pid: proc.pid, result: 'failed', detail: `OpenProcess(${proc.pid}) failed with Win32 error ${r.error}` };
      return t;
    }
    t.handle = r.handle;
    if (!identityMatches(r.handle, proc.startKey)) {
      t.outcome = { pid: proc.pid, result: 'gone', detail: 'pid now belongs to another process (creation time changed)' };
    } else if (r.handle.waitForExit(0)) {
      t.outcome = { pid: proc.pid, result: 'gone' };
    }
    return t;
  }

  private async verifyThroughCim(targets: Target[]): Promise<void> {
    if (!targets.length) return;
    const keys = await this.deps.currentKeys(targets.map((t) => t.proc.pid));
    for (const t of targets) {
      const key = keys.get(t.proc.pid) ?? null;
      if (key === null) t.outcome = { pid: t.proc.pid, result: 'gone' };
      else if (key !== t.proc.startKey)
        t.outcome = { pid: t.proc.pid, result: 'gone', detail: 'pid now belongs to another process (creation time changed)' };
    }
  }

  private async killTrees(live: Target[], protectedPids: ReadonlySet<number>, force: boolean): Promise<void> {
    if (this.treeSupported === false || live.length === 0) return;
    const byPid = new Map(live.map((t) => [t.proc.pid, t]));
    const roots = forestRoots(live.map((t) => t.proc));
    const livePids = new Set(byPid.keys());
    const raw = await this.deps.rawParents();
    for (const root of roots) {
      if (!treeIsSafe(root.pid, raw, livePids, protectedPids)) continue;
      const out = await runTaskkill(this.deps.exec, { pid: root.pid, tree: true, force });
      if (out.badSyntax) {
        this.treeSupported = false;
        return;
      }
      this.treeSupported = true;
      this.record(out, byPid);
    }
  }

  private record(out: TaskkillOutcome, byPid: Map<number, Target>): void {
    for (const [pid, said] of out.perPid) {
      const t = byPid.get(pid);
      if (t) t.said = said;
    }
  }

  private alive(t: Target, waitMs: number): boolean {
    return t.handle ? !t.handle.waitForExit(waitMs) : true;
  }

  /** Settles one target after the tree calls: taskkill on its own, then TerminateProcess. */
  private async finish(t: Target, force: boolean): Promise<void> {
    const pid = t.proc.pid;
    const good = force ? 'terminated' : 'signalled';
    if (t.said?.status === good || (t.handle && !this.alive(t, force && t.said ? SETTLE_MS : 0))) {
      t.outcome = { pid, result: 'sent' };
      return;
    }
    if (t.said?.status !== 'denied' || !t.handle) {
      const out = await runTaskkill(this.deps.exec, { pid, tree: false, force });
      this.record(out, new Map([[pid, t]]));
      if (out.spawnError && !t.said) t.said = { status: 'error', message: `taskkill: ${out.spawnError}` };
      if (t.said?.status === good) {
        t.outcome = { pid, result: 'sent' };
        return;
      }
      if (t.handle && !this.alive(t, force ? SETTLE_MS : 0)) {
        t.outcome = { pid, result: force ? 'sent' : 'gone' };
        return;
      }
      if (!t.handle && t.said?.status === 'not-found') {
        t.outcome = { pid, result: 'gone' };
        return;
      }
    }
    if (force && t.handle && t.canTerminate) {
      const err = t.handle.terminate(1);
      if (err === ERROR_SUCCESS || !this.alive(t, SETTLE_MS)) {
        t.outcome = {
          pid,
          result: 'sent',
          detail: t.said ? `taskkill: ${t.said.message}; ended with TerminateProcess` : 'ended with TerminateProcess',
        };
        return;
      }
      t.outcome =
        err === ERROR_ACCESS_DENIED
          ? { pid, result: 'denied', detail: `TerminateProcess(${pid}): access denied` }
          : { pid, result: 'failed', detail: `TerminateProcess(${pid}) failed with Win32 error ${err}` };
      return;
    }
    const why = t.said?.message ?? 'taskkill gave no answer for this pid';
    if (!force && t.said?.status !== 'denied') {
      // No polite channel: a console program has no window to close ("can only be terminated
      // forcefully"; Wine says "could not find process"). Reported as sent so the caller waits
      // the grace period and then forces it, instead of giving up on it as undeliverable.
      t.outcome = { pid, result: 'sent', detail: `no window to close (${why}); the force phase ends it` };
      return;
    }
    if (t.said?.status === 'denied' || (force && t.handle && !t.canTerminate)) t.outcome = { pid, result: 'denied', detail: why };
    else t.outcome = { pid, result: 'failed', detail: t.said?.status === 'not-found' ? `taskkill could not reach it (${why})` : why };
  }
}
