// POSIX race-free force, shared by Linux (identity from /proc) and macOS (from `ps`): SIGSTOP
// everything in scope, rescan until nothing new appears (a stopped process cannot fork),
// re-check identity, SIGKILL, then SIGCONT whatever we could not kill so nothing stays frozen.
import type { ScopedProcess } from '../types.js';
import type { ForceKillContext, SignalOutcome } from './backend.js';

export const FREEZE_ROUNDS = 20;

export interface PosixOps {
  /** Current identity keys (null: gone or zombie), in one call for many pids. */
  identities(pids: number[]): Promise<Map<number, string | null>>;
  send(pid: number, signal: NodeJS.Signals): SignalOutcome;
  /** Resolves once the pids are stopped (or gone), or after timeoutMs. */
  waitStopped(pids: number[], timeoutMs: number): Promise<void>;
}

export async function freezeKill(targets: readonly ScopedProcess[], ctx: ForceKillContext, ops: PosixOps): Promise<SignalOutcome[]> {
  const frozen = new Map<number, ScopedProcess>();
  const outcomes = new Map<number, SignalOutcome>();
  const freeze = async (batch: readonly ScopedProcess[]): Promise<ScopedProcess[]> => {
    const fresh = batch.filter((p) => !ctx.protectedPids.has(p.pid) && !frozen.has(p.pid) && !outcomes.has(p.pid));
    const ids = await ops.identities(fresh.map((p) => p.pid));
    const added: ScopedProcess[] = [];
    for (const p of fresh) {
      if (ids.get(p.pid) !== p.startKey) {
        outcomes.set(p.pid, { pid: p.pid, result: 'gone', process: p });
        continue;
      }
      const r = ops.send(p.pid, 'SIGSTOP');
      if (r.result === 'sent') {
        frozen.set(p.pid, p);
        added.push(p);
      } else {
        outcomes.set(p.pid, { ...r, process: p });
      }
    }
    return added;
  };
  try {
    let batch = await freeze(targets);
    ctx.onFreeze?.(batch.map((p) => p.pid), 0);
    // A pending SIGSTOP aborts any fork in progress; once every frozen process is really
    // stopped, a rescan that finds nothing new means nothing in scope can start any more.
    for (let round = 1; round <= FREEZE_ROUNDS; round++) {
      await ops.waitStopped(batch.map((p) => p.pid), 250);
      batch = await freeze(await ctx.rescan());
      if (batch.length === 0) break;
      ctx.onFreeze?.(batch.map((p) => p.pid), round);
    }
    const ids = await ops.identities([...frozen.keys()]);
    for (const [pid, p] of frozen) {
      const outcome = ids.get(pid) === p.startKey ? ops.send(pid, 'SIGKILL') : { pid, result: 'gone' as const };
      outcomes.set(pid, { ...outcome, process: p });
    }
  } finally {
    // A stopped process that got SIGKILL dies anyway; anything we could not kill must not stay frozen.
    const ids = await ops.identities([...frozen.keys()]).catch(() => new Map<number, string | null>());
    for (const [pid, p] of frozen) if (ids.get(pid) === p.startKey) ops.send(pid, 'SIGCONT');
  }
  return [...outcomes.values()];
}
