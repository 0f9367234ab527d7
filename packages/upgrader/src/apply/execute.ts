import { join } from 'node:path';
import { errors, type StoppedProcess, toLlmUpgradeError } from '@llm-upgrade/core';
import { cleanUpUnexecuted, type PlanState, takePlanState } from './state.js';
import type { ApplyPlan } from './types.js';
import { lexists } from '../fsutil.js';
import { readInstalledState } from '../installed.js';
import { installLayout } from '../layout.js';
import { statePaths } from '../paths.js';
import { planMoves } from '../transaction/swap.js';
import { relaunchDetached } from '../self-relaunch.js';
import { identityOfFile } from '../transaction/checks.js';
import { inScopeNow, listedPaths, ownedNames, runTransaction, sameMoves } from '../transaction/transaction.js';
import type { RecoverResult } from '../transaction/recover.js';

export interface ApplyResult {
  ok: true;
  from: string | null;
  /** null only when the upgrade was handed to a relaunched upgrader. */
  to: string | null;
  /** The last phase reached: "commit" after a real upgrade, "resolve" for a no-op or a relaunch, "plan" for a dry run. */
  phase: string;
  changed: boolean;
  stopped: StoppedProcess[];
  /** stop → healthy (or → checked when nothing was running), in ms. */
  downtimeMs: number;
  /** stop → every new file in place, in ms. */
  filesInPlaceMs: number;
  rolledBack: false;
  noop?: boolean;
  dryRun?: boolean;
  /** The plan a dry run made (`apply --dry-run --json`). */
  plan?: ApplyPlan;
  /** The app updating itself: the upgrade continues in a detached upgrader (pid) once `waitingFor` has exited. */
  relaunched?: true;
  pid?: number;
  waitingFor?: number;
  restarted: string | null;
  healthy: boolean | null;
  files: number;
  bytes: number;
  signed: boolean;
  journalSteps: number;
  recovered: RecoverResult['action'];
  source: string;
  root: string;
  warnings: string[];
}

function resultWithoutSwap(plan: ApplyPlan, extra: Partial<ApplyResult>): ApplyResult {
  return {
    ok: true,
    from: plan.from,
    to: plan.to,
    phase: 'resolve',
    changed: false,
    stopped: [],
    downtimeMs: 0,
    filesInPlaceMs: 0,
    rolledBack: false,
    restarted: null,
    healthy: null,
    files: 0,
    bytes: 0,
    signed: false,
    journalSteps: 0,
    recovered: plan.recovered,
    source: plan.source,
    root: plan.root,
    warnings: plan.warnings,
    ...extra,
  };
}

function worldChanged(plan: ApplyPlan, what: string): Error {
  return errors.abortedError({
    message: `${plan.root} changed since the plan was made: ${what}; nothing was stopped or swapped`,
    hint: 'Run the upgrade again to plan afresh.',
    phase: 'resolve',
    changed: true,
    details: {},
  });
}

/**
 * Between the plan and its execution (a question on a terminal, a caller's own checks) the world
 * may move: the installed version, the staged files and the moves must be as planned; processes
 * that started meanwhile are in scope and stopped too (said in a warning), ones that exited are simply gone.
 */
async function revalidate(plan: ApplyPlan, st: PlanState): Promise<string[]> {
  const installed = await readInstalledState([plan.root]);
  if ((installed?.version ?? null) !== (st.installed?.version ?? null))
    throw worldChanged(
      plan,
      `the installed version is now ${installed?.version ?? 'none'}, the plan was made for ${st.installed?.version ?? 'none'}`,
    );
  for (const [path, planned] of st.identities) {
    const now = await identityOfFile(join(st.stageDir!, ...path.split('/'))).catch(() => null);
    if (!now || now.dev !== planned.dev || now.ino !== planned.ino || now.size !== planned.size)
      throw worldChanged(plan, `the staged ${join(st.stageDir!, path)} is not the file that was verified`);
  }
  const { base, units } = installLayout(plan.roots);
  const moves = await planMoves(base, st.stageDir!, ownedNames(st.installed), listedPaths(st.installed), units);
  if (!sameMoves(moves, plan.moves ?? []))
    throw worldChanged(plan, `the swap would now be ${moves.map((m) => `${m.op} ${m.path}`).join(', ')}`);
  const planned = new Set(plan.processes.map((p) => `${p.pid}:${p.startKey}`));
  const gained = (await inScopeNow(plan.roots, st.opts.profile)).filter((p) => !planned.has(`${p.pid}:${p.startKey}`));
  return gained.length
    ? [
        `${gained.length} process(es) of the install started after the plan and are stopped too: ${gained.map((p) => `${p.name} (pid ${p.pid})`).join(', ')}`,
      ]
    : [];
}

/**
 * Runs a plan from `planApply` unchanged: re-validates it, then stop → swap (the plan's moves,
 * journaled) → post-check → restart → health → commit; any failure after the first move rolls
 * back. A dry run's plan is returned as the dry run's result; a no-op's as the no-op.
 */
export async function executeApply(plan: ApplyPlan): Promise<ApplyResult> {
  if (plan.dryRun) {
    return resultWithoutSwap(plan, {
      phase: 'plan',
      dryRun: true,
      ...(plan.moves ? { plan } : {}),
      files: plan.files,
      bytes: plan.bytes,
      signed: plan.signed,
    });
  }
  if (plan.noop) return resultWithoutSwap(plan, { noop: true, changed: plan.recovered !== 'nothing' });
  if (plan.relaunch) {
    const args = takeRelaunchArgs(plan);
    const pid = relaunchDetached(args, { pid: plan.relaunch.pid, startKey: plan.relaunch.startKey });
    return resultWithoutSwap(plan, { relaunched: true, pid, waitingFor: plan.relaunch.pid });
  }
  const st = takePlanState(plan);
  try {
    const gained = await revalidate(plan, st);
    for (const message of gained) st.opts.onEvent?.({ type: 'warning', message });
    const tx = await runTransaction({
      kind: 'apply',
      roots: plan.roots,
      profile: st.opts.profile,
      stageDir: st.stageDir!,
      moves: plan.moves!,
      from: plan.from,
      to: plan.to,
      fromManifest: st.installed,
      toManifest: st.manifest,
      stagedIdentities: st.identities,
      restart: st.opts.restart !== false,
      graceMs: st.graceMs,
      timeoutMs: st.timeoutMs,
      healthTimeoutMs: st.healthTimeoutMs,
      stayUpMs: st.opts.stayUpMs,
      onEvent: st.opts.onEvent,
      signal: st.opts.signal,
    });
    return {
      ...resultWithoutSwap(plan, {}),
      phase: 'commit',
      changed: true,
      stopped: tx.stopped,
      downtimeMs: tx.downtimeMs,
      filesInPlaceMs: tx.filesInPlaceMs,
      restarted: tx.restarted,
      healthy: tx.healthy,
      files: plan.files,
      bytes: plan.bytes,
      signed: plan.signed,
      journalSteps: tx.journalSteps,
      warnings: [...plan.warnings, ...gained, ...tx.warnings],
    };
  } catch (e) {
    // Staging holds the new version's files a kept journal may still move back: it goes only with the journal.
    if (!(await lexists(statePaths(plan.root).journal).catch(() => true))) await cleanUpUnexecuted(plan.root, st.stageDir);
    throw toLlmUpgradeError(e, 'stop', true);
  } finally {
    await st.lock?.release();
  }
}

function takeRelaunchArgs(plan: ApplyPlan): string[] {
  const st = takePlanState(plan);
  return st.opts.relaunchArgs ?? [];
}
