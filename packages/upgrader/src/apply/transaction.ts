import { mkdir, rename } from 'node:fs/promises';
import { classify, getBackend, LlmUpgradeError, scanHolders, stop, toLlmUpgradeError, type Profile, type StoppedProcess } from '@llm-upgrade/core';
import { randomUUID } from 'node:crypto';
import { lexists, removeTree, walk } from '../fsutil.js';
import { deleteJournal, JournalWriter, type Journal, type RestartPlan } from '../journal.js';
import type { Manifest } from '../manifest.js';
import { statePaths } from '../paths.js';
import type { UpgradeEventSink } from '../events.js';
import { checkInstalledFiles, resolveUnderRoot, smokeCheck, waitHealthy, type FileIdentity } from './checks.js';
import { finishCommit } from './commit.js';
import { restartServer } from './restart.js';
import { planMoves, runBackward, runForward } from './swap.js';

export interface TransactionOptions {
  kind: 'apply' | 'rollback';
  roots: string[];
  profile?: Profile | undefined;
  /** Directory on the root's file system holding the complete new tree. */
  stageDir: string;
  from: string | null;
  to: string | null;
  fromManifest: Manifest | null;
  toManifest: Manifest | null;
  /** Identities recorded while staging (apply): the post-check compares inodes instead of re-hashing. */
  stagedIdentities?: Map<string, FileIdentity>;
  restart: boolean;
  graceMs: number;
  timeoutMs: number;
  healthTimeoutMs: number;
  onEvent?: UpgradeEventSink | undefined;
}

export interface TransactionResult {
  stopped: StoppedProcess[];
  /** stop started → every new file in place. */
  filesInPlaceMs: number;
  /** stop started → healthy (or files in place and checked, when nothing was running). */
  downtimeMs: number;
  restarted: string | null;
  healthy: boolean | null;
  moves: number;
  journalSteps: number;
  warnings: string[];
}

/** In-scope processes that run now, through core's scope rules. */
export async function inScopeNow(roots: string[], profile: Profile | undefined) {
  const backend = await getBackend();
  const snap = await backend.snapshot();
  return classify(snap, roots, profile, (p) => backend.pathKey(p)).filter((p) => p.inScope);
}

export function restartPlanFor(profile: Profile | undefined, running: { role: string }[], allowRestart: boolean): RestartPlan {
  const wasRunning = allowRestart && running.some((p) => p.role === 'server' || p.role === 'supervisor');
  return { wasRunning, services: [], ...(profile?.startCommand ? { command: profile.startCommand } : {}), ...(profile?.healthUrl ? { healthUrl: profile.healthUrl } : {}) };
}

function withRollbackDetails(e: LlmUpgradeError, extra: Record<string, unknown>): LlmUpgradeError {
  return new LlmUpgradeError({ code: e.code, message: e.message, hint: e.hint, phase: e.phase, changed: true, details: { ...(e.details ?? {}), ...extra }, cause: e });
}

function smokeFor(root: string, manifest: Manifest | null, profile: Profile | undefined): string[] | undefined {
  if (manifest?.smoke) return manifest.smoke;
  return profile?.versionCommand;
}

/** Stops everything in scope and refuses unless nothing survives and nothing holds a file. */
async function stopAll(opts: TransactionOptions, changedBefore: boolean): Promise<{ stopped: StoppedProcess[]; services: RestartPlan['services']; warnings: string[] }> {
  const r = await stop({ roots: opts.roots, ...(opts.profile ? { profile: opts.profile } : {}), graceMs: opts.graceMs, timeoutMs: opts.timeoutMs, ...(opts.onEvent ? { onEvent: opts.onEvent } : {}) });
  const blocking = r.holders.filter((h) => h.inScope || h.kind !== 'cwd');
  if (!r.ok || r.survivors.length > 0 || blocking.length > 0) {
    const survivors = r.survivors.map((s) => ({ pid: s.pid, name: s.name, exe: s.exe, why: s.why }));
    const holders = blocking.map((h) => ({ pid: h.pid, name: h.name, exe: h.exe, path: h.path, kind: h.kind, inScope: h.inScope }));
    const first = survivors[0] ?? holders[0];
    const what = survivors.length
      ? `${survivors.length} process(es) still running after the timeout, e.g. ${first!.name} (pid ${first!.pid}, ${first!.exe ?? 'exe unknown'})`
      : `${holders.length} file(s) under the install still held, e.g. ${holders[0]!.path} by ${holders[0]!.name} (pid ${holders[0]!.pid}, ${holders[0]!.exe ?? 'exe unknown'})`;
    throw new LlmUpgradeError({
      code: survivors.length ? 'ERR_SURVIVORS' : 'ERR_FILES_HELD',
      message: `${what}; nothing was swapped`,
      hint: 'Close the programs named above (or stop them as root) and run the upgrade again; the install is unchanged.',
      phase: 'stop',
      changed: changedBefore || r.stopped.length > 0,
      details: { survivors, holders, stopped: r.stopped.map((p) => ({ pid: p.pid, name: p.name, exe: p.exe, how: p.how })) },
    });
  }
  return { stopped: r.stopped, services: r.services, warnings: r.warnings };
}

/** The final look just before the first rename: no in-scope process, no holder of a file. */
async function assertNothingHolds(opts: TransactionOptions): Promise<void> {
  const rep = await scanHolders({ roots: opts.roots, ...(opts.profile ? { profile: opts.profile } : {}) });
  const blocking = rep.holders.filter((h) => h.inScope || h.kind !== 'cwd');
  if (blocking.length) {
    const h = blocking[0]!;
    throw new LlmUpgradeError({ code: 'ERR_FILES_HELD', message: `${h.path} is held by ${h.name} (pid ${h.pid}, ${h.exe ?? 'exe unknown'}) just before the swap; nothing was swapped`, hint: 'Something restarted the install or opened its files; stop it and run the upgrade again.', phase: 'holders', changed: true, details: { holders: blocking } });
  }
}

/**
 * After the swap has begun, any failure lands here: stop whatever the new version started,
 * undo every move in reverse (from the journal, checking the disk), start the old version again.
 */
export async function rollBackTransaction(writer: JournalWriter, opts: Pick<TransactionOptions, 'roots' | 'profile' | 'graceMs' | 'timeoutMs' | 'healthTimeoutMs' | 'onEvent'>, reason: string): Promise<{ moved: number; restarted: string | null }> {
  const j = writer.journal;
  if (j.state !== 'rolling-back') await writer.write({ state: 'rolling-back' });
  if ((await inScopeNow(opts.roots, opts.profile)).length > 0) {
    const r = await stop({ roots: opts.roots, ...(opts.profile ? { profile: opts.profile } : {}), graceMs: opts.graceMs, timeoutMs: opts.timeoutMs, ...(opts.onEvent ? { onEvent: opts.onEvent } : {}) });
    if (!r.ok) {
      throw new LlmUpgradeError({ code: 'ERR_SURVIVORS', message: `cannot roll back: ${r.survivors.map((s) => `${s.name} (pid ${s.pid})`).join(', ') || 'files are held'} still running; the journal is kept`, hint: 'Stop those processes, then run `llm-upgrade recover`.', phase: 'rollback', changed: true, details: { survivors: r.survivors, holders: r.holders } });
    }
  }
  const moved = await runBackward({ root: j.root, stageDir: j.stageDir, backupDir: j.backupDir }, j.ops);
  opts.onEvent?.({ type: 'rollback', reason, moves: moved });
  if (j.kind === 'apply') await removeTree(j.stageDir);
  if ((await walk(j.backupDir).catch(() => [])).every((e) => e.kind === 'dir')) await removeTree(j.backupDir);
  await deleteJournal(statePaths(j.root).journal);
  let restarted: string | null = null;
  try {
    restarted = await restartServer(j.root, j.restart, opts.timeoutMs, opts.onEvent);
    if (restarted && j.restart.healthUrl && j.from) await waitHealthy(j.restart.healthUrl, j.from, opts.healthTimeoutMs, opts.onEvent).catch(() => undefined);
  } catch {
    // best effort: the files are back; the report says the old version did not come up
  }
  return { moved, restarted };
}

/** stop → swap (journaled) → post-check → restart → health → commit; rollback on any failure after the first move. */
export async function runTransaction(opts: TransactionOptions): Promise<TransactionResult> {
  const root = opts.roots[0]!;
  const paths = statePaths(root);
  const running = await inScopeNow(opts.roots, opts.profile);
  const restart = restartPlanFor(opts.profile, running, opts.restart);
  const backend = await getBackend();
  const journal: Journal = {
    format: 1,
    txid: randomUUID(),
    kind: opts.kind,
    state: 'stopping',
    seq: 0,
    root,
    stageDir: opts.stageDir,
    backupDir: paths.swapBackup,
    from: opts.from,
    to: opts.to,
    fromManifest: opts.fromManifest,
    toManifest: opts.toManifest,
    restart,
    ops: [],
    done: 0,
    owner: { pid: process.pid, startKey: await backend.identityOf(process.pid).catch(() => null) },
    updatedAt: new Date().toISOString(),
  };
  const writer = new JournalWriter(paths.journal, journal, opts.onEvent);
  await writer.write();

  const t0 = performance.now();
  let stopped: StoppedProcess[];
  let warnings: string[];
  try {
    opts.onEvent?.({ type: 'phase', phase: 'stop' });
    const s = await stopAll(opts, false);
    stopped = s.stopped;
    warnings = s.warnings;
    restart.services = s.services;
    if (s.services.length > 0) restart.wasRunning = opts.restart;
    await assertNothingHolds(opts);
  } catch (e) {
    // Nothing moved: drop the journal; if we had ended a running server, start it again.
    await deleteJournal(paths.journal);
    if (restart.wasRunning && (await inScopeNow(opts.roots, opts.profile)).length === 0) await restartServer(root, restart, opts.timeoutMs, opts.onEvent).catch(() => null);
    throw toLlmUpgradeError(e, 'stop', true);
  }

  let restarted: string | null = null;
  let healthy: boolean | null = null;
  let filesInPlaceMs = 0;
  try {
    opts.onEvent?.({ type: 'phase', phase: 'swap' });
    if ((await walk(paths.swapBackup).catch(() => [])).some((e) => e.kind !== 'dir')) {
      // Left by a rollback that could not put everything back: keep it, out of this transaction's way.
      const aside = `${paths.swapBackup}.stale-${Date.now()}`;
      await rename(paths.swapBackup, aside);
      warnings.push(`an earlier transaction left files in ${paths.swapBackup}; moved them to ${aside}`);
    }
    const ops = await planMoves(root, opts.stageDir);
    await writer.write({ state: 'swapping', ops, done: 0, restart });
    // After the journal names it: a crash can never leave a swap-backup nobody knows about.
    await mkdir(paths.swapBackup, { recursive: true });
    await runForward(writer, opts.onEvent);
    await writer.write({ state: 'checking' });
    filesInPlaceMs = performance.now() - t0;

    opts.onEvent?.({ type: 'phase', phase: 'post-check' });
    if (opts.toManifest) await checkInstalledFiles(root, opts.toManifest, opts.stagedIdentities);
    const smoke = smokeFor(root, opts.toManifest, opts.profile);
    if (smoke && opts.to && (opts.toManifest?.smoke || (await lexists(resolveUnderRoot(root, smoke[0]!))))) {
      await smokeCheck(root, smoke, opts.to, Math.min(opts.timeoutMs, 15_000));
    }
    opts.onEvent?.({ type: 'phase', phase: 'restart' });
    restarted = await restartServer(root, restart, opts.timeoutMs, opts.onEvent);
    if (restarted && restart.healthUrl && opts.to) {
      opts.onEvent?.({ type: 'phase', phase: 'health' });
      await waitHealthy(restart.healthUrl, opts.to, opts.healthTimeoutMs, opts.onEvent);
      healthy = true;
    }
  } catch (e) {
    const err = toLlmUpgradeError(e, 'swap', true);
    const rb = await rollBackTransaction(writer, opts, err.message);
    const code = err.code === 'ERR_HEALTH' || err.code === 'ERR_POST_CHECK' ? err.code : 'ERR_POST_CHECK';
    const wrapped = code === err.code ? err : new LlmUpgradeError({ code, message: `${err.phase}: ${err.message}`, hint: 'The previous version was restored.', phase: err.phase, changed: true, cause: err });
    throw withRollbackDetails(wrapped, { rolledBack: true, movesUndone: rb.moved, oldRestarted: rb.restarted, from: opts.from, to: opts.to });
  }
  const downtimeMs = performance.now() - t0;

  // ---- POINT OF NO RETURN: once the journal says "committed", recovery finishes the commit
  // instead of rolling back. Everything before this line is undone by any failure or crash.
  await writer.write({ state: 'committed' });
  await finishCommit(writer.journal);
  return { stopped, filesInPlaceMs: Math.round(filesInPlaceMs), downtimeMs: Math.round(downtimeMs), restarted, healthy, moves: writer.journal.ops.length, journalSteps: writer.journal.seq, warnings };
}
