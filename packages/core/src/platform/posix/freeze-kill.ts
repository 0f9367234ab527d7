// POSIX race-free force, shared by Linux (identity from /proc) and macOS (from `ps`): SIGSTOP
// everything in scope, rescan until nothing new appears (a stopped process cannot fork),
// re-check identity, SIGKILL, then SIGCONT whatever we could not kill so nothing stays frozen.
// While anything is frozen, a record on disk says what we froze (frozen-record.ts).
import { removeFrozenRecord, writeFrozenRecord } from '../../frozen-record.js';
import type { ScopedProcess } from '../../types.js';
import type { ForceKillContext, SignalOutcome } from '../backend.js';

export const FREEZE_ROUNDS = 20;

export interface PosixOps {
  /** Current identity keys (null: gone or zombie), in one call for many pids. */
  identities(pids: number[]): Promise<Map<number, string | null>>;
  /** Sends signal to pid; with startKey, only while pid is still that process (Linux: through a pidfd). */
  send(pid: number, signal: NodeJS.Signals, startKey?: string): SignalOutcome;
  /** Resolves once the pids are stopped (or gone), or after timeoutMs. */
  waitStopped(pids: number[], timeoutMs: number): Promise<void>;
}

export async function freezeKill(targets: readonly ScopedProcess[], ctx: ForceKillContext, ops: PosixOps): Promise<SignalOutcome[]> {
  const frozen = new Map<number, ScopedProcess>();
  const outcomes = new Map<number, SignalOutcome>();
  const owner = { pid: process.pid, startKey: (await ops.identities([process.pid])).get(process.pid) ?? '' };
  const freeze = async (batch: readonly ScopedProcess[]): Promise<ScopedProcess[]> => {
    const fresh = batch.filter((p) => !ctx.protectedPids.has(p.pid) && !frozen.has(p.pid) && !outcomes.has(p.pid));
    const ids = await ops.identities(fresh.map((p) => p.pid));
    const added: ScopedProcess[] = [];
    const live = fresh.filter((p) => {
      if (ids.get(p.pid) === p.startKey) return true;
      outcomes.set(p.pid, { pid: p.pid, result: 'gone', process: p });
      return false;
    });
    // Recorded before the SIGSTOPs: if we die in between, recover thaws them (a recorded process
    // that was never stopped is not in state T and is left alone).
    if (live.length > 0)
      writeFrozenRecord(
        owner,
        [...frozen.values(), ...live].map((p) => ({ pid: p.pid, startKey: p.startKey })),
      );
    for (const p of live) {
      const r = ops.send(p.pid, 'SIGSTOP', p.startKey);
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
    ctx.onFreeze?.(
      batch.map((p) => p.pid),
      0,
    );
    await testHoldAfterFirstFreeze();
    // A pending SIGSTOP aborts any fork in progress; once every frozen process is really
    // stopped, a rescan that finds nothing new means nothing in scope can start any more.
    for (let round = 1; round <= FREEZE_ROUNDS; round++) {
      await ops.waitStopped(
        batch.map((p) => p.pid),
        250,
      );
      // Interrupted: this round is complete; the finally below thaws everything frozen.
      ctx.checkInterrupted?.();
      batch = await freeze(await ctx.rescan());
      if (batch.length === 0) break;
      ctx.onFreeze?.(
        batch.map((p) => p.pid),
        round,
      );
    }
    ctx.checkInterrupted?.();
    const ids = await ops.identities([...frozen.keys()]);
    for (const [pid, p] of frozen) {
      const outcome = ids.get(pid) === p.startKey ? ops.send(pid, 'SIGKILL', p.startKey) : { pid, result: 'gone' as const };
      outcomes.set(pid, { ...outcome, process: p });
    }
  } finally {
    // A stopped process that got SIGKILL dies anyway; anything we could not kill must not stay frozen.
    const ids = await ops.identities([...frozen.keys()]).catch(() => new Map<number, string | null>());
    for (const [pid, p] of frozen) if (ids.get(pid) === p.startKey) ops.send(pid, 'SIGCONT', p.startKey);
    removeFrozenRecord(owner.pid);
  }
  return [...outcomes.values()];
}

/**
 * Test-only (never set it in production): LLM_UPGRADE_TEST_FREEZE_HOLD_MS=N keeps everything
 * frozen for N ms after the first freeze round, so a test can deliver a signal while processes
 * are stopped, whatever the machine's load.
 */
async function testHoldAfterFirstFreeze(): Promise<void> {
  const ms = Number(process.env.LLM_UPGRADE_TEST_FREEZE_HOLD_MS ?? 0);
  if (Number.isFinite(ms) && ms > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(ms, 10_000)));
}
