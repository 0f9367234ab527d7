// POSIX race-free force: SIGSTOP everything in scope, rescan until nothing new appears (a
// stopped process cannot fork), re-check identity, SIGKILL, then SIGCONT whatever we could not
// kill so nothing stays frozen. Written for macOS, where identity comes from `ps` rather than
// /proc; linux.ts has the same algorithm inline (to be folded into one module).
import type { ScopedProcess } from '../../types.js';
import type { ForceKillContext, SignalOutcome } from '../backend.js';

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
    for (let round = 1; round <= FREEZE_ROUNDS && batch.length > 0; round++) {
      await ops.waitStopped(batch.map((p) => p.pid), 250);
      batch = await freeze(await ctx.rescan());
      if (batch.length) ctx.onFreeze?.(batch.map((p) => p.pid), round);
    }
    const ids = await ops.identities([...frozen.keys()]);
    for (const [pid, p] of frozen) {
      const outcome = ids.get(pid) === p.startKey ? ops.send(pid, 'SIGKILL') : { pid, result: 'gone' as const };
      outcomes.set(pid, { ...outcome, process: p });
    }
  } finally {
    const ids = await ops.identities([...frozen.keys()]).catch(() => new Map<number, string | null>());
    for (const [pid, p] of frozen) if (ids.get(pid) === p.startKey) ops.send(pid, 'SIGCONT');
  }
  return [...outcomes.values()];
}
