import { rmSync } from 'node:fs';
import { readFrozenRecords } from './frozen-record.js';
import { getBackend } from './platform/index.js';

export interface ThawResult {
  /** pids continued (SIGCONT): frozen by an upgrader that died before thawing them. */
  thawed: number[];
}

/**
 * Continues exactly the processes a dead upgrader recorded as frozen by itself (pid + start
 * time still matching), and removes its record. Never a process someone else stopped (a user's
 * Ctrl-Z), never one frozen by an upgrader that is still running.
 */
export async function thawRecorded(): Promise<ThawResult> {
  const backend = await getBackend();
  const thawed: number[] = [];
  for (const rec of readFrozenRecords()) {
    if (rec.owner.pid === process.pid || (await backend.identityOf(rec.owner.pid)) === rec.owner.startKey) continue; // its owner still runs
    for (const e of rec.frozen) {
      if ((await backend.identityOf(e.pid)) !== e.startKey) continue;
      const outcome = await backend.resume(e.pid, e.startKey);
      if (outcome.result === 'sent') thawed.push(e.pid);
    }
    rmSync(rec.file, { force: true });
  }
  return { thawed };
}
