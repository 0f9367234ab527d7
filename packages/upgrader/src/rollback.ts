import { readdir, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { DEFAULTS, type Profile, type StoppedProcess, errors } from '@llm-upgrade/core';
import { readBackupMeta } from './transaction/commit.js';
import { runTransaction } from './transaction/transaction.js';
import { lexists } from './fsutil.js';
import { acquireLock } from './transaction/lock.js';
import { parseManifest, type Manifest } from './manifest.js';
import { statePaths } from './paths.js';
import { recoverUnderLock } from './transaction/recover.js';
import type { UpgradeEventSink } from './events.js';
import { installLayout } from './layout.js';

export interface RollbackOptions {
  roots: string[];
  profile?: Profile;
  restart?: boolean;
  graceMs?: number;
  timeoutMs?: number;
  healthTimeoutMs?: number;
  /** Roll back a fresh install (the backup is "nothing"): the package's files go, files a user added stay. */
  toEmpty?: boolean;
  onEvent?: UpgradeEventSink;
  signal?: AbortSignal;
}

export interface RollbackResult {
  ok: true;
  from: string | null;
  to: string | null;
  phase: 'commit';
  changed: true;
  stopped: StoppedProcess[];
  downtimeMs: number;
  filesInPlaceMs: number;
  rolledBack: false;
  restarted: string | null;
  healthy: boolean | null;
  journalSteps: number;
}

/**
 * Swaps back to the kept backup with the same journaled transaction as apply (the backup is the
 * staging directory); what it replaces becomes the new kept backup, so a second rollback rolls forward.
 */
export async function rollback(opts: RollbackOptions): Promise<RollbackResult> {
  const roots = opts.roots.map((r) => resolve(r));
  const root = installLayout(roots).base;
  const paths = statePaths(root);
  const lock = await acquireLock(root, 'rollback');
  try {
    const timeoutMs = opts.timeoutMs ?? DEFAULTS.timeoutMs;
    await recoverUnderLock({
      roots,
      profile: opts.profile,
      graceMs: opts.graceMs,
      timeoutMs,
      healthTimeoutMs: opts.healthTimeoutMs,
      onEvent: opts.onEvent,
    });
    const meta = await readBackupMeta(root);
    if (!meta || !(await lexists(paths.backupFiles))) {
      throw errors.noBackupError({
        message: `no backup to roll back to in ${paths.backup}`,
        hint: 'Rollback restores the version the last `apply` replaced; there was none here.',
        phase: 'rollback',
        changed: false,
      });
    }
    // The kept backup is what the last *committed* transaction replaced (a failed, rolled-back
    // apply never touches it). After a fresh install that is nothing at all.
    const emptyBackup = meta.version === null && meta.manifest === null && (await readdir(paths.backupFiles).catch(() => [])).length === 0;
    if (emptyBackup && !opts.toEmpty) {
      throw errors.noBackupError({
        message: `the last committed upgrade of ${root} (to ${meta.replacedBy ?? 'its current version'}, ${meta.committedAt}) was a fresh install: rolling back would remove the product`,
        hint: 'Pass --to-empty to remove the installed files anyway (files you added stay).',
        phase: 'rollback',
        changed: false,
        details: { backup: paths.backup, replacedBy: meta.replacedBy, committedAt: meta.committedAt },
      });
    }
    let installed: Manifest | null = null;
    try {
      installed = parseManifest(await readFile(paths.installed), paths.installed);
    } catch {
      installed = null;
    }
    const tx = await runTransaction({
      kind: 'rollback',
      roots,
      profile: opts.profile,
      stageDir: paths.backupFiles,
      from: installed?.version ?? null,
      to: meta.version,
      fromManifest: installed,
      toManifest: meta.manifest,
      restart: opts.restart !== false,
      graceMs: opts.graceMs ?? DEFAULTS.stopGraceMs,
      timeoutMs,
      healthTimeoutMs: opts.healthTimeoutMs ?? timeoutMs,
      onEvent: opts.onEvent,
      signal: opts.signal,
    });
    return {
      ok: true,
      from: installed?.version ?? null,
      to: meta.version,
      phase: 'commit',
      changed: true,
      stopped: tx.stopped,
      downtimeMs: tx.downtimeMs,
      filesInPlaceMs: tx.filesInPlaceMs,
      rolledBack: false,
      restarted: tx.restarted,
      healthy: tx.healthy,
      journalSteps: tx.journalSteps,
    };
  } finally {
    await lock.release();
  }
}
