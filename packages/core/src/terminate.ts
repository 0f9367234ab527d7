// The machinery shared by stop (everything in scope) and sweep (orphans and their subtrees):
// services first, tiers of polite requests, a race-free force, then verification until the deadline.
import { getBackend } from './platform/index.js';
import type { PlatformBackend, SignalOutcome } from './platform/index.js';
import { ollamaProfile } from './profile.js';
import { resolveRoots, withAliases } from './roots.js';
import { throwIfInterrupted } from './errors.js';
import { classify, withDescendants } from './scope.js';
import { assertSelfNotInScope, selfAndAncestors } from './self.js';
import { markHolders, mergeUnknown } from './holders.js';
import type {
  CoreEvent,
  GpuUsage,
  Holder,
  ProcessInfo,
  Profile,
  ScopedProcess,
  ServiceRef,
  Snapshot,
  StopHow,
  StopOptions,
  StopResult,
  StoppedProcess,
  Survivor,
} from './types.js';
import { DEFAULTS } from './defaults.js';

export type TerminateMode = 'stop' | 'sweep';

const POLL_MS = 25;
const WAIT_EVENT_MS = 250;
const HOLDER_RETRY_MS = 100;
/** Supervisors before servers (they would respawn them), servers before engines (they end their own). */
const TIERS: readonly (readonly ScopedProcess['role'][])[] = [['supervisor'], ['server'], ['engine', 'other']];

interface Tracked {
  proc: ScopedProcess;
  how: StopHow;
  gone: boolean;
}

const keyOf = (p: Pick<ProcessInfo, 'pid' | 'startKey'>) => `${p.pid}:${p.startKey}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function serviceNames(profile: Profile, os: PlatformBackend['os']): string[] {
  const s = profile.services ?? {};
  return (os === 'linux' ? s.systemd : os === 'win32' ? s.windows : s.launchd) ?? [];
}

/**
 * Runs stop or sweep. Never throws for survivors or held files: the result says ok:false.
 * `backend` defaults to this OS's; tests pass a scripted one to check the algorithm's ordering.
 */
export async function terminate(opts: StopOptions, mode: TerminateMode, backend?: PlatformBackend): Promise<StopResult> {
  const started = Date.now();
  const emit = (e: CoreEvent) => opts.onEvent?.(e);
  backend ??= await getBackend();
  const roots = withAliases(resolveRoots(opts.roots, mode), backend);
  const profile = opts.profile ?? ollamaProfile;
  const timeoutMs = opts.timeoutMs ?? DEFAULTS.timeoutMs;
  const graceMs = Math.min(opts.graceMs ?? (mode === 'sweep' ? DEFAULTS.sweepGraceMs : DEFAULTS.stopGraceMs), timeoutMs);
  const deadline = started + timeoutMs;
  const pathKey = (p: string) => backend.pathKey(p);

  const select = (all: ScopedProcess[]): ScopedProcess[] =>
    mode === 'stop'
      ? all.filter((p) => p.inScope)
      : withDescendants(
          all,
          all.filter((p) => p.orphan),
        );
  const scan = async (): Promise<{ snap: Snapshot; all: ScopedProcess[]; targets: ScopedProcess[] }> => {
    const snap = await backend.snapshot();
    const all = classify(snap, roots, profile, pathKey);
    return { snap, all, targets: select(all) };
  };

  let changed = false;
  /** After SIGINT/SIGTERM/SIGHUP: ERR_INTERRUPTED (nothing is frozen outside forceKill, which thaws before it rethrows). */
  const checkInterrupted = () =>
    throwIfInterrupted(opts.signal, mode, changed, changed ? 'processes were signalled; nothing is left frozen' : '');
  checkInterrupted();
  const first = await scan();
  const self = selfAndAncestors(first.snap);
  assertSelfNotInScope(first.targets, self, mode);
  const protectedPids = new Set<number>([...self, ...(opts.protectPids ?? [])]);
  emit({
    type: 'snapshot',
    processes: first.snap.processes.length,
    inScope: first.all.filter((p) => p.inScope).length,
    orphans: first.all.filter((p) => p.orphan).length,
  });

  const targetPids = () => new Set(first.targets.map((p) => p.pid));
  const gpuBefore = (await backend.gpuUsage()).filter((g) => targetPids().has(g.pid));
  const plan = first.targets;
  const targets = first.targets.filter((p) => !protectedPids.has(p.pid));
  const records = new Map<string, Tracked>();
  const record = (p: ScopedProcess, how: StopHow) => {
    const existing = records.get(keyOf(p));
    const rank: Tracked['how'][] = ['exited', 'terminated', 'killed'];
    if (!existing) records.set(keyOf(p), { proc: p, how, gone: false });
    else if (rank.indexOf(how) > rank.indexOf(existing.how)) existing.how = how;
  };
  const denied = new Map<number, string>();
  const warnings: string[] = [];
  const services: ServiceRef[] = [];

  if (opts.dryRun) {
    const found = mode === 'stop' && !opts.skipServices ? await backend.findServices(targets, serviceNames(profile, backend.os)) : [];
    const holderScan = mode === 'stop' ? await backend.scanHolders(roots, first.snap) : { holders: [], unknown: [] };
    const unknown = mergeUnknown(first.snap.unreadable, holderScan.unknown);
    return {
      ok: true,
      stopped: [],
      survivors: [],
      plan,
      holders: markHolders(holderScan.holders, first.all),
      warnings,
      unknown,
      complete: unknown.length === 0 && !first.snap.hidden,
      services: found,
      graceMs,
      timeoutMs,
      dryRun: true,
      durationMs: Date.now() - started,
      ...(gpuBefore.length > 0 ? { gpu: { before: gpuBefore, after: gpuBefore } } : {}),
    };
  }

  for (const p of targets) record(p, 'exited');

  /** Polls identities until every process in `only` (default: all we track) is gone, or `until`. */
  const waitGone = async (until: number, only?: ReadonlySet<string>): Promise<void> => {
    let lastEvent = 0;
    for (;;) {
      const pending = [...records.values()].filter((r) => !r.gone && !denied.has(r.proc.pid));
      for (const r of pending) {
        if ((await backend.identityOf(r.proc.pid)) !== r.proc.startKey) {
          r.gone = true;
          emit({ type: 'exited', pid: r.proc.pid, name: r.proc.name, how: r.how });
        }
      }
      const left = pending.filter((r) => !r.gone && (!only || only.has(keyOf(r.proc)))).length;
      if (left === 0 || Date.now() >= until || opts.signal?.aborted) return;
      if (Date.now() - lastEvent >= WAIT_EVENT_MS) {
        emit({ type: 'wait', remaining: left, elapsedMs: Date.now() - started });
        lastEvent = Date.now();
      }
      await sleep(POLL_MS);
    }
  };

  // 1. Service managers, or they respawn what we end.
  if (mode === 'stop' && !opts.skipServices) {
    for (const service of await backend.findServices(targets, serviceNames(profile, backend.os), roots)) {
      checkInterrupted();
      emit({ type: 'service-stop', service });
      changed = true;
      services.push(service);
      for (const p of targets) if (service.pids.includes(p.pid)) record(p, 'terminated');
      try {
        await backend.stopService(service, Math.max(DEFAULTS.minServiceCallMs, deadline - Date.now()));
      } catch (e) {
        const message = `could not stop ${service.manager} service ${service.name}: ${(e as Error).message}`;
        warnings.push(message);
        emit({ type: 'warning', message });
      }
    }
  }

  // 2. Polite requests, tier by tier, within the grace period.
  const graceEnd = Date.now() + graceMs;
  const tiers = TIERS.map((roles) => targets.filter((p) => roles.includes(p.role)));
  for (let i = 0; i < tiers.length; i++) {
    const tier = (tiers[i] ?? []).filter((p) => !records.get(keyOf(p))?.gone);
    if (tier.length === 0) continue;
    checkInterrupted();
    const outcomes = await backend.requestExit(tier, protectedPids);
    for (const o of outcomes) {
      const p = tier.find((t) => t.pid === o.pid);
      if (!p) continue;
      if (o.result === 'sent') {
        changed = true;
        record(p, 'terminated');
        emit({ type: 'signal', pid: p.pid, name: p.name, signal: backend.os === 'win32' ? 'close' : 'SIGTERM' });
      } else if (o.result === 'denied') {
        // Only a permission refusal exempts a process from force: a polite request that merely
        // failed (Windows console programs cannot be closed without /F) is forced below.
        denied.set(p.pid, o.detail ?? o.result);
      }
    }
    const tiersLeft = tiers.slice(i).filter((t) => t.length > 0).length;
    await waitGone(Date.now() + Math.max(0, (graceEnd - Date.now()) / tiersLeft), new Set(tier.map(keyOf)));
  }
  await waitGone(graceEnd);
  checkInterrupted();

  // 3. Force whatever is left, plus anything that appeared meanwhile (respawns, forks).
  const rescanTargets = async () => (await scan()).targets.filter((p) => !protectedPids.has(p.pid));
  const force = async (batch: ScopedProcess[]) => {
    const outcomes: SignalOutcome[] = await backend.forceKill(batch, {
      rescan: rescanTargets,
      protectedPids,
      onFreeze: (pids, round) => {
        changed = true;
        emit({ type: 'freeze', pids, round });
      },
      checkInterrupted,
    });
    for (const o of outcomes) {
      const p = o.process ?? batch.find((b) => b.pid === o.pid);
      if (!p) continue;
      if (o.result === 'sent') {
        record(p, 'killed');
        emit({ type: 'signal', pid: p.pid, name: p.name, signal: 'SIGKILL' });
      } else if (o.result === 'gone') {
        record(p, 'exited');
      } else {
        denied.set(p.pid, o.detail ?? o.result);
      }
    }
    await waitGone(Math.min(deadline, Date.now() + DEFAULTS.tierWaitMs));
    checkInterrupted();
  };
  // What ignored the request; forceKill's own rescans add whatever appeared meanwhile, and the
  // verification below forces anything that shows up after that.
  const leftover = [...records.values()].filter((r) => !r.gone && !denied.has(r.proc.pid)).map((r) => r.proc);
  if (leftover.length > 0) await force(leftover);

  // 4. Verify until the deadline: nothing in scope alive, no file under a root held.
  let holders: Holder[] = [];
  let unknown: ProcessInfo[] = [];
  let blocking: Holder[] = [];
  let last = await scan();
  for (let attempt = 1; ; attempt++) {
    checkInterrupted();
    const retryable = last.targets.filter((p) => !protectedPids.has(p.pid) && !denied.has(p.pid));
    if (retryable.length > 0 && Date.now() < deadline) {
      await force(retryable);
      last = await scan();
      continue;
    }
    if (mode === 'sweep') {
      unknown = last.snap.unreadable;
      break;
    }
    const found = await backend.scanHolders(roots, last.snap);
    holders = markHolders(found.holders, last.all);
    unknown = mergeUnknown(last.snap.unreadable, found.unknown);
    blocking = holders.filter((h) => h.inScope || h.kind !== 'cwd');
    emit({ type: 'holders', holders: holders.length, unknown: unknown.length, attempt });
    const foreignBlocking = blocking.filter((h) => !h.inScope);
    if (foreignBlocking.length === 0 || Date.now() + HOLDER_RETRY_MS >= deadline) break;
    await sleep(HOLDER_RETRY_MS);
    last = await scan();
  }

  if (last.snap.hidden) {
    warnings.push(last.snap.hidden);
    emit({ type: 'warning', message: last.snap.hidden });
  }
  for (const h of holders) {
    if (h.inScope || h.kind !== 'cwd') continue;
    const message = `pid ${h.pid} (${h.exe ?? h.name}) has its working directory in ${h.path}: it holds no file, but keeps the directory busy`;
    warnings.push(message);
    emit({ type: 'warning', message });
  }

  const survivors: Survivor[] = last.targets.map((p) => ({
    ...p,
    why: protectedPids.has(p.pid)
      ? `pid ${p.pid} is protected (protectPids)`
      : (denied.get(p.pid) ?? `pid ${p.pid} still running after ${timeoutMs} ms`),
  }));
  const alive = new Set(last.targets.map(keyOf));
  const stopped: StoppedProcess[] = [...records.values()]
    .filter((r) => r.gone || !alive.has(keyOf(r.proc)))
    .map((r) => ({ ...r.proc, how: r.how }));
  const gpuAfter: GpuUsage[] = gpuBefore.length > 0 ? (await backend.gpuUsage()).filter((g) => targetPids().has(g.pid)) : [];

  return {
    ok: survivors.length === 0 && blocking.length === 0,
    stopped,
    survivors,
    plan,
    holders,
    warnings,
    unknown,
    complete: unknown.length === 0 && !last.snap.hidden,
    services,
    graceMs,
    timeoutMs,
    dryRun: false,
    durationMs: Date.now() - started,
    ...(gpuBefore.length > 0 ? { gpu: { before: gpuBefore, after: gpuAfter } } : {}),
  };
}
