import { rename } from 'node:fs/promises';
import {
  DEFAULTS,
  getBackend,
  hasCode,
  interruptedError,
  LlmUpgradeError,
  scanHolders,
  stop,
  throwIfInterrupted,
  toLlmUpgradeError,
  type InterruptSignal,
  type Profile,
  type ScopedProcess,
  type StoppedProcess,
  errors,
  type OutcomeDetails,
} from '@llm-upgrade/core';
import { randomUUID } from 'node:crypto';
import { lexists, mkdirp, removeTree, walk } from '../fsutil.js';
import { deleteJournal, JournalWriter, type Journal, type MoveOp, type RestartPlan } from './journal.js';
import type { Manifest } from '../manifest.js';
import { installLayout } from '../layout.js';
import { statePaths } from '../paths.js';
import type { UpgradeEventSink } from '../events.js';
import { checkInstalledFiles, resolveUnderRoot, smokeCheck, waitHealthy, type FileIdentity } from './checks.js';
import { finishCommit } from './commit.js';
import { healthGate } from './health-gate.js';
import { preflightSpace } from './preflight.js';
import { healthBefore, recordProcesses } from './record.js';
import { restartServer, type RestartOutcome } from './restart.js';
import { inScopeNowFor } from './scope-now.js';
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
  /** The moves the plan showed (`planApply`): journaled as they are; without them planned here. */
  moves?: MoveOp[] | undefined;
  /** Identities recorded while staging (apply): the post-check compares inodes instead of re-hashing. */
  stagedIdentities?: Map<string, FileIdentity>;
  restart: boolean;
  graceMs: number;
  timeoutMs: number;
  healthTimeoutMs: number;
  /** A server that did not answer its health URL before the stop must stay up this long after the restart. */
  stayUpMs?: number | undefined;
  onEvent?: UpgradeEventSink | undefined;
  /** SIGINT/SIGTERM: before the commit roll back and restart what ran, then throw ERR_INTERRUPTED; after it, finish. */
  signal?: AbortSignal | undefined;
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
export const inScopeNow = inScopeNowFor;

/** What runs now and how to start it again: each top-level process as it ran, and where it answered health. */
export async function restartPlanFor(profile: Profile | undefined, running: ScopedProcess[], allowRestart: boolean): Promise<RestartPlan> {
  const wasRunning = allowRestart && running.some((p) => p.role === 'server' || p.role === 'supervisor');
  const processes = allowRestart ? await recordProcesses(running) : [];
  const health = allowRestart ? await healthBefore(processes, profile, wasRunning) : null;
  return {
    wasRunning: wasRunning || (allowRestart && processes.length > 0),
    services: [],
    ...(profile?.startCommand ? { command: profile.startCommand } : {}),
    ...(health ? { healthUrl: health.url } : profile?.healthUrl ? { healthUrl: profile.healthUrl } : {}),
    processes,
    health,
  };
}

function signalName(signal: AbortSignal | undefined): InterruptSignal {
  const r: unknown = signal?.reason;
  return r === 'SIGTERM' || r === 'SIGHUP' ? r : 'SIGINT';
}

/** Best effort, after the old version's files are back: start it as it ran and wait for it. */
export async function restartOld(
  roots: string[],
  plan: RestartPlan,
  from: string | null,
  opts: { timeoutMs: number; healthTimeoutMs: number; onEvent?: UpgradeEventSink | undefined },
): Promise<RestartOutcome | null> {
  try {
    const started = await restartServer(roots, plan, opts.timeoutMs, opts.onEvent);
    const url = plan.health ? (plan.health.answeredBefore ? plan.health.url : null) : (plan.healthUrl ?? null);
    const version = plan.health?.versionBefore ?? from;
    if (started && url && version)
      await waitHealthy(url, version, { timeoutMs: opts.healthTimeoutMs, onEvent: opts.onEvent, logFile: started.logFile }).catch(
        () => undefined,
      );
    return started;
  } catch {
    return null; // the files are back; the report says the old version did not come up
  }
}

function withRollbackDetails(e: LlmUpgradeError, extra: OutcomeDetails): LlmUpgradeError {
  return new LlmUpgradeError({
    code: e.code,
    message: e.message,
    hint: e.hint,
    phase: e.phase,
    changed: true,
    details: { ...(e.details ?? {}), ...extra },
    cause: e,
  });
}

function smokeFor(manifest: Manifest | null, profile: Profile | undefined): string[] | undefined {
  if (manifest?.smoke) return manifest.smoke;
  return profile?.versionCommand;
}

/** The transaction's scope and timings, as core's stop takes them. */
function stopScope(opts: Pick<TransactionOptions, 'roots' | 'profile' | 'graceMs' | 'timeoutMs' | 'onEvent'>) {
  return {
    roots: opts.roots,
    ...(opts.profile ? { profile: opts.profile } : {}),
    graceMs: opts.graceMs,
    timeoutMs: opts.timeoutMs,
    ...(opts.onEvent ? { onEvent: opts.onEvent } : {}),
  };
}

/** Stops everything in scope and refuses unless nothing survives and nothing holds a file. */
async function stopAll(
  opts: TransactionOptions,
  changedBefore: boolean,
): Promise<{ stopped: StoppedProcess[]; services: RestartPlan['services']; warnings: string[] }> {
  const r = await stop({ ...stopScope(opts), ...(opts.signal ? { signal: opts.signal } : {}) });
  const blocking = r.holders.filter((h) => h.inScope || h.kind !== 'cwd');
  if (!r.ok || r.survivors.length > 0 || blocking.length > 0) {
    const survivors = r.survivors.map((s) => ({ pid: s.pid, name: s.name, exe: s.exe, why: s.why }));
    const holders = blocking.map((h) => ({ pid: h.pid, name: h.name, exe: h.exe, path: h.path, kind: h.kind, inScope: h.inScope }));
    const first = survivors[0] ?? holders[0];
    const what = survivors.length
      ? `${survivors.length} process(es) still running after the timeout, e.g. ${first!.name} (pid ${first!.pid}, ${first!.exe ?? 'exe unknown'})`
      : `${holders.length} file(s) under the install still held, e.g. ${holders[0]!.path} by ${holders[0]!.name} (pid ${holders[0]!.pid}, ${holders[0]!.exe ?? 'exe unknown'})`;
    throw (survivors.length ? errors.survivorsError : errors.filesHeldError)({
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
    throw errors.filesHeldError({
      message: `${h.path} is held by ${h.name} (pid ${h.pid}, ${h.exe ?? 'exe unknown'}) just before the swap; nothing was swapped`,
      hint: 'Something restarted the install or opened its files; stop it and run the upgrade again.',
      phase: 'holders',
      changed: true,
      details: { holders: blocking },
    });
  }
}

/**
 * After the swap has begun, any failure lands here: stop whatever the new version started,
 * undo every move in reverse (read off the disk, so the journal needs no new state first and a
 * full disk cannot stop it), then drop staging and the journal and start the old version again.
 * When the undo cannot finish, journal and staging stay for `recover`.
 */
export async function rollBackTransaction(
  writer: JournalWriter,
  opts: Pick<TransactionOptions, 'roots' | 'profile' | 'graceMs' | 'timeoutMs' | 'healthTimeoutMs' | 'onEvent'>,
  reason: string,
): Promise<{ moved: number; restarted: string | null }> {
  const j = writer.journal;
  // Units first, whether or not their process runs this instant: a crash-looping new version
  // (Restart=always) would otherwise be started again while the old files move back.
  const backend = await getBackend();
  for (const service of j.restart.services) {
    await backend
      .stopService(service, opts.timeoutMs)
      .catch((e: unknown) => opts.onEvent?.({ type: 'warning', message: `rollback: ${(e as Error).message}` }));
  }
  if ((await inScopeNow(opts.roots, opts.profile)).length > 0) {
    const r = await stop(stopScope(opts)); // no abort signal: a rollback is not cut short
    if (!r.ok) {
      throw errors.survivorsError({
        message: `cannot roll back: ${r.survivors.map((s) => `${s.name} (pid ${s.pid})`).join(', ') || 'files are held'} still running; the journal is kept`,
        hint: 'Stop those processes, then run `llm-upgrade recover`.',
        phase: 'rollback',
        changed: true,
        details: { survivors: r.survivors, holders: r.holders },
      });
    }
  }
  const moved = await runBackward({ root: j.root, stageDir: j.stageDir, backupDir: j.backupDir }, j.ops);
  opts.onEvent?.({ type: 'rollback', reason, moves: moved });
  // The journal goes first: from here on staging is only leftovers (never the other way round).
  await deleteJournal(statePaths(j.root).journal);
  if (j.kind === 'apply') await removeTree(j.stageDir).catch(() => undefined);
  if ((await walk(j.backupDir).catch(() => [])).every((e) => e.kind === 'dir')) await removeTree(j.backupDir).catch(() => undefined);
  const restarted = await restartOld(opts.roots, j.restart, j.from, opts);
  return { moved, restarted: restarted?.how ?? null };
}

/** A failure of the rollback itself: the journal and staging are kept, `recover` finishes it. */
function rollbackFailed(original: LlmUpgradeError, e: unknown): LlmUpgradeError {
  const rb = toLlmUpgradeError(e, 'rollback', true);
  return new LlmUpgradeError({
    code: rb.code === 'ERR_INTERNAL' ? original.code : rb.code,
    message: `${original.message}; rolling back failed too (${rb.message}), the journal is kept`,
    hint: 'Fix the cause above (free space, stop the processes named), then run `llm-upgrade recover`: it finishes the rollback.',
    phase: 'rollback',
    changed: true,
    details: { ...(original.details ?? {}), rolledBack: false, rollbackError: rb.toJSON() },
    cause: e,
  });
}

/** Top-level names the installed manifest lists: what the package owns in the root (null: all of it). */
export function ownedNames(manifest: Manifest | null): Set<string> | null {
  const listed = listedPaths(manifest);
  return listed && new Set([...listed].map((p) => p.split('/')[0]!));
}

/** Every path the manifest lists (files and links). */
export function listedPaths(manifest: Manifest | null): Set<string> | null {
  if (!manifest) return null;
  return new Set([...manifest.files.map((f) => f.path), ...(manifest.links ?? []).map((l) => l.path)]);
}

export function sameMoves(a: readonly MoveOp[], b: readonly MoveOp[]): boolean {
  return a.length === b.length && a.every((m, i) => m.op === b[i]!.op && m.path === b[i]!.path);
}

/**
 * The moves to journal once everything is stopped: the plan's, unchanged. What the stopped
 * processes wrote into the package's directories on their way out (a cache file) is a user's
 * entry like any other and is carried over too; any other difference means the install changed
 * under us, and nothing is moved.
 */
function movesAfterStop(plan: MoveOp[] | undefined, now: MoveOp[], root: string, warnings: string[]): MoveOp[] {
  if (!plan || sameMoves(plan, now)) return now;
  const key = (m: MoveOp) => `${m.op}:${m.path}`;
  const planned = new Set(plan.map(key));
  const extra = now.filter((m) => !planned.has(key(m)));
  if (
    extra.every((m) => m.op === 'carry') &&
    sameMoves(
      plan,
      now.filter((m) => planned.has(key(m))),
    )
  ) {
    warnings.push(`entries appeared in ${root} while stopping and are kept (carried over): ${extra.map((m) => m.path).join(', ')}`);
    return [...plan, ...extra];
  }
  throw errors.abortedError({
    message: `${root} changed while its processes were stopped: the swap would now be ${now.map(key).join(', ')} instead of the planned ${plan.map(key).join(', ')}; nothing was swapped`,
    hint: 'Something else is changing the install; run the upgrade again to plan afresh.',
    phase: 'swap',
    changed: true,
    details: {},
  });
}

function journalBytes(j: Journal): number {
  return Buffer.byteLength(JSON.stringify(j)) + 4096;
}

/** stop → swap (journaled) → post-check → restart → health → commit; rollback on any failure after the first move. */
export async function runTransaction(opts: TransactionOptions): Promise<TransactionResult> {
  const { base: root, units } = installLayout(opts.roots);
  const paths = statePaths(root);
  const running = await inScopeNow(opts.roots, opts.profile);
  const restart = await restartPlanFor(opts.profile, running, opts.restart);
  const backend = await getBackend();
  const owned = ownedNames(opts.fromManifest);
  const listed = listedPaths(opts.fromManifest);
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

  // Everything from here to the end of the commit writes a few small files: make sure they fit
  // before anything is stopped (the swap itself is renames; its undo needs no space at all).
  const planned = opts.moves ?? (await planMoves(root, opts.stageDir, owned, listed, units));
  const jb = journalBytes({ ...journal, ops: planned });
  const manifestBytes = (m: Manifest | null) => (m ? Buffer.byteLength(JSON.stringify(m, null, 2)) + 256 : 0);
  if (process.env.LLM_UPGRADE_TEST_SKIP_PREFLIGHT !== '1') {
    await preflightSpace(root, { fileBytes: [jb, jb, manifestBytes(opts.toManifest), manifestBytes(opts.fromManifest), 4096], inodes: 4 });
  }
  throwIfInterrupted(opts.signal, 'stage', false);

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
    throwIfInterrupted(opts.signal, 'stop', true, 'the server was started again; nothing was swapped');
    await assertNothingHolds(opts);
  } catch (e) {
    // Nothing moved: drop the journal; if we had ended a running server, start it again.
    await deleteJournal(paths.journal).catch(() => undefined);
    if (restart.wasRunning && (await inScopeNow(opts.roots, opts.profile)).length === 0)
      await restartOld(opts.roots, restart, opts.from, opts);
    throw toLlmUpgradeError(e, 'stop', true);
  }

  let started: RestartOutcome | null = null;
  let healthy: boolean | null = null;
  let filesInPlaceMs = 0;
  let phase: 'swap' | 'post-check' | 'restart' | 'health' | 'commit' = 'swap';
  try {
    opts.onEvent?.({ type: 'phase', phase: 'swap' });
    if ((await walk(paths.swapBackup).catch(() => [])).some((e) => e.kind !== 'dir')) {
      // Left by a rollback that could not put everything back: keep it, out of this transaction's way.
      const aside = `${paths.swapBackup}.stale-${Date.now()}`;
      await rename(paths.swapBackup, aside);
      warnings.push(`an earlier transaction left files in ${paths.swapBackup}; moved them to ${aside}`);
    }
    const ops = movesAfterStop(opts.moves, await planMoves(root, opts.stageDir, owned, listed, units), root, warnings);
    await writer.write({ state: 'swapping', ops, done: 0, restart });
    // After the journal names it: a crash can never leave a swap-backup nobody knows about.
    await mkdirp(paths.swapBackup);
    await runForward(writer, opts.onEvent);
    await writer.write({ state: 'checking' });
    filesInPlaceMs = performance.now() - t0;

    phase = 'post-check';
    throwIfInterrupted(opts.signal, phase, true);
    opts.onEvent?.({ type: 'phase', phase: 'post-check' });
    if (opts.toManifest) await checkInstalledFiles(root, opts.toManifest, opts.stagedIdentities);
    const smoke = smokeFor(opts.toManifest, opts.profile);
    if (smoke && opts.to && (opts.toManifest?.smoke || (await lexists(resolveUnderRoot(root, smoke[0]!))))) {
      await smokeCheck(root, smoke, opts.to, Math.min(opts.timeoutMs, DEFAULTS.smokeTimeoutMs));
    }
    phase = 'restart';
    throwIfInterrupted(opts.signal, phase, true);
    opts.onEvent?.({ type: 'phase', phase: 'restart' });
    started = await restartServer(opts.roots, restart, opts.timeoutMs, opts.onEvent);
    if (started && opts.to) {
      phase = 'health';
      opts.onEvent?.({ type: 'phase', phase: 'health' });
      const gate = await healthGate(restart, started, opts.to, {
        roots: opts.roots,
        profile: opts.profile,
        healthTimeoutMs: opts.healthTimeoutMs,
        stayUpMs: opts.stayUpMs ?? DEFAULTS.healthStayUpMs,
        onEvent: opts.onEvent,
        signal: opts.signal,
      });
      warnings.push(...gate.warnings);
      healthy = gate.how === 'answered' ? true : null;
    }
    phase = 'commit';
    throwIfInterrupted(opts.signal, 'health', true);
    // ---- POINT OF NO RETURN: once the journal says "committed", recovery finishes the commit
    // instead of rolling back. Everything before this line is undone by any failure or crash.
    await writer.write({ state: 'committed' });
  } catch (e) {
    const err = opts.signal?.aborted
      ? interruptedError(signalName(opts.signal), phase === 'commit' ? 'health' : phase, true)
      : toLlmUpgradeError(e, phase, true);
    let rb: { moved: number; restarted: string | null };
    try {
      rb = await rollBackTransaction(writer, opts, err.message);
    } catch (rbErr) {
      throw rollbackFailed(err, rbErr);
    }
    const extra = {
      rolledBack: true,
      movesUndone: rb.moved,
      oldRestarted: rb.restarted,
      from: opts.from,
      to: opts.to,
      ...(started?.logFile ? { logFile: started.logFile } : {}),
    };
    if (hasCode(err, 'ERR_INTERRUPTED')) {
      throw new LlmUpgradeError({
        code: 'ERR_INTERRUPTED',
        message: `${err.message}: rolled back, ${opts.from ?? 'the previous files'} ${rb.restarted ? 'runs again' : 'is back'}`,
        hint: 'The install is as it was before; run the upgrade again when you are ready.',
        phase: err.phase,
        changed: true,
        details: { ...(err.details ?? { signal: 'SIGINT' as const }), ...extra },
      });
    }
    const code = err.code === 'ERR_HEALTH' || err.code === 'ERR_POST_CHECK' || err.code === 'ERR_DISK_FULL' ? err.code : 'ERR_POST_CHECK';
    const wrapped =
      code === err.code
        ? err
        : new LlmUpgradeError({
            code,
            message: `${err.phase}: ${err.message}`,
            hint: 'The previous version was restored.',
            phase: err.phase,
            changed: true,
            cause: err,
          });
    throw withRollbackDetails(wrapped, extra);
  }
  const downtimeMs = performance.now() - t0;
  if (opts.signal?.aborted) warnings.push(`${signalName(opts.signal)} arrived after the point of no return: the upgrade was finished`);
  try {
    await finishCommit(writer.journal);
  } catch (e) {
    const err = toLlmUpgradeError(e, 'commit', true);
    throw new LlmUpgradeError({
      code: err.code,
      message: `${opts.to ?? 'the new version'} is installed and committed, but finishing the commit failed: ${err.message}`,
      hint: 'Run `llm-upgrade recover` to finish it (it rolls forward).',
      phase: 'commit',
      changed: true,
      details: { committed: true },
      cause: e,
    });
  }
  return {
    stopped,
    filesInPlaceMs: Math.round(filesInPlaceMs),
    downtimeMs: Math.round(downtimeMs),
    restarted: started?.how ?? null,
    healthy,
    moves: writer.journal.ops.length,
    journalSteps: writer.journal.seq,
    warnings,
  };
}
