import { DEFAULTS, thawRecorded, toLlmUpgradeError, type Profile, errors } from '@llm-upgrade/core';
import { finishCommit } from './commit.js';
import { inScopeNow, restartOld, rollBackTransaction } from './transaction.js';
import { lexists, removeTree, walk } from '../fsutil.js';
import { deleteJournal, JournalWriter, readJournal } from './journal.js';
import { statePaths } from '../paths.js';
import type { UpgradeEventSink } from '../events.js';
import { installLayout } from '../layout.js';

export interface RecoverOptions {
  roots: string[];
  profile?: Profile | undefined;
  graceMs?: number;
  timeoutMs?: number;
  healthTimeoutMs?: number;
  onEvent?: UpgradeEventSink | undefined;
  /**
   * Accepted for symmetry; recovery always runs to its end once started (every step is
   * idempotent and a kill -9 mid-way is finished by the next run), so an interrupt is not honoured mid-way.
   */
  signal?: AbortSignal | undefined;
}

export interface RecoverResult {
  ok: true;
  /** nothing: no interrupted transaction; rolled-back / committed: what recovery finished. */
  action: 'nothing' | 'rolled-back' | 'committed';
  from: string | null;
  to: string | null;
  movesUndone: number;
  /** In-scope processes left frozen (SIGSTOP) by a dead upgrader, continued again. */
  thawed: number[];
  restarted: string | null;
  changed: boolean;
}

/**
 * Continues (SIGCONT) the processes a dead upgrader recorded as frozen by itself, and only those:
 * a process a user stopped on purpose (Ctrl-Z) stays stopped. We continue rather than kill: if the
 * transaction is rolled back they are the old version's processes and may keep running; if they
 * must go, the stop that follows ends them the ordinary, graceful way.
 */
async function thawFrozen(onEvent?: UpgradeEventSink): Promise<number[]> {
  const { thawed } = await thawRecorded();
  for (const pid of thawed) onEvent?.({ type: 'thawed', pid, name: 'a process' });
  return thawed;
}

/** recover without taking the lock (the caller holds it): apply and rollback run this first. */
export async function recoverUnderLock(opts: RecoverOptions): Promise<RecoverResult> {
  const root = installLayout(opts.roots).base;
  const paths = statePaths(root);
  const graceMs = opts.graceMs ?? DEFAULTS.stopGraceMs;
  const timeoutMs = opts.timeoutMs ?? DEFAULTS.timeoutMs;
  const healthTimeoutMs = opts.healthTimeoutMs ?? timeoutMs;
  const thawed = await thawFrozen(opts.onEvent);
  const journal = await readJournal(paths.journal).catch((e) => {
    throw errors.internalError({
      message: `cannot read ${paths.journal}: ${(e as Error).message}`,
      hint: 'Inspect the journal by hand; the moves it lists are renames between the root, .llm-upgrade/staging and .llm-upgrade/swap-backup.',
      phase: 'recover',
      changed: false,
    });
  });
  if (!journal) {
    // A crash while staging leaves only staging behind: nothing of the install was touched.
    const leftovers = (await lexists(paths.staging)) || (await lexists(paths.backupNext));
    await removeTree(paths.staging);
    if (await lexists(paths.swapBackup)) {
      if ((await walk(paths.swapBackup)).every((e) => e.kind === 'dir')) await removeTree(paths.swapBackup);
    }
    return {
      ok: true,
      action: 'nothing',
      from: null,
      to: null,
      movesUndone: 0,
      thawed,
      restarted: null,
      changed: leftovers || thawed.length > 0,
    };
  }
  const base = { from: journal.from, to: journal.to, thawed };
  try {
    if (journal.state === 'committed') {
      await finishCommit(journal);
      opts.onEvent?.({ type: 'recovered', action: 'committed', moves: 0 });
      return { ok: true, action: 'committed', ...base, movesUndone: 0, restarted: null, changed: true };
    }
    if (journal.state === 'stopping') {
      // Died while stopping: no file moved. Start the old server again if it was ended.
      await deleteJournal(paths.journal);
      let restarted: string | null = null;
      if (journal.restart.wasRunning && (await inScopeNow(opts.roots, opts.profile)).length === 0) {
        restarted =
          (await restartOld(opts.roots, journal.restart, journal.from, { timeoutMs, healthTimeoutMs, onEvent: opts.onEvent }))?.how ?? null;
      }
      if (journal.kind === 'apply') await removeTree(journal.stageDir);
      if ((await walk(journal.backupDir).catch(() => [])).every((e) => e.kind === 'dir')) await removeTree(journal.backupDir);
      opts.onEvent?.({ type: 'recovered', action: 'rolled-back', moves: 0 });
      return { ok: true, action: 'rolled-back', ...base, movesUndone: 0, restarted, changed: true };
    }
    const writer = new JournalWriter(paths.journal, journal, opts.onEvent);
    const rb = await rollBackTransaction(
      writer,
      { roots: opts.roots, profile: opts.profile, graceMs, timeoutMs, healthTimeoutMs, onEvent: opts.onEvent },
      `interrupted during ${journal.state}`,
    );
    opts.onEvent?.({ type: 'recovered', action: 'rolled-back', moves: rb.moved });
    return { ok: true, action: 'rolled-back', ...base, movesUndone: rb.moved, restarted: rb.restarted, changed: true };
  } catch (e) {
    throw toLlmUpgradeError(e, 'recover', true);
  }
}
