import { readdir } from 'node:fs/promises';
import { readJournal } from './journal.js';
import { STATE_DIR } from '../installed.js';
import { statePaths } from '../paths.js';
import { getBackend } from '@llm-upgrade/core';

export interface TransactionStatus {
  kind: 'apply' | 'rollback';
  state: string;
  from: string | null;
  to: string | null;
  /** Whether the upgrader that wrote the journal still runs (then it is in progress, not interrupted). */
  ownerAlive: boolean;
  ownerPid: number;
  /** What `recover` will do: roll back before the commit, finish it from the commit on. */
  recoverWill: 'roll back' | 'finish the commit';
  /** Processes the journal says ran before the stop (recover starts them again). */
  ran: { pid: number; argv: string[] }[];
  updatedAt: string;
}

/** An unfinished transaction of the root (from its journal), or null. */
export async function transactionStatus(root: string): Promise<TransactionStatus | null> {
  const j = await readJournal(statePaths(root).journal).catch(() => null);
  if (!j) return null;
  let ownerAlive = false;
  try {
    const key = await (await getBackend()).identityOf(j.owner.pid);
    ownerAlive = key !== null && (j.owner.startKey === null || key === j.owner.startKey);
  } catch {
    ownerAlive = false;
  }
  return {
    kind: j.kind,
    state: j.state,
    from: j.from,
    to: j.to,
    ownerAlive,
    ownerPid: j.owner.pid,
    recoverWill: j.state === 'committed' ? 'finish the commit' : 'roll back',
    ran: j.restart.wasRunning ? (j.restart.processes ?? []).map((p) => ({ pid: p.pid, argv: p.argv })) : [],
    updatedAt: j.updatedAt,
  };
}

/** Top-level entries of the root that no installed manifest lists: the user's, kept across upgrades and rollbacks. */
export async function userEntries(root: string, listed: ReadonlySet<string>): Promise<string[]> {
  const names = await readdir(root).catch(() => [] as string[]);
  return names.filter((n) => n !== STATE_DIR && !listed.has(n)).sort();
}
