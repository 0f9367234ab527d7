// `run`: start CMD so that nothing it starts outlives it. The OS part (subreaper + pdeathsig,
// Job Object, process group) comes from getGuardBackend(); this module tracks descendants by
// identity, forwards signals, and once CMD ends stops what remains with the backends' own
// polite request and race-free force (the same primitives stop and sweep use).
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants } from 'node:os';
import * as errors from '../error-factories.js';
import { getBackend, getGuardBackend } from '../platform/index.js';
import { whichOnPath } from '../profile.js';
import { Lineage } from './lineage.js';
import { asScoped, selfAndAncestorPids } from './scoped.js';
import type { GuardedProcess, GuardEvent, GuardResult, LineageEntry, RunGuardedOptions, WatchdogCommand } from './types.js';
import { DEFAULTS } from '../defaults.js';

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const POLL_MS = 25;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** 128 + N for a signal N (the shell's convention), else the code itself. */
export function exitStatusOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (signal) return 128 + (constants.signals[signal] ?? 0);
  return code ?? 1;
}

function defaultWatchdog(): WatchdogCommand | null {
  try {
    const file = fileURLToPath(new URL('./watchdog-entry.js', import.meta.url));
    return existsSync(file) ? { file: process.execPath, args: [file] } : null;
  } catch {
    return null; // bundled without import.meta.url: the caller passes `watchdog`
  }
}

function resolveCommand(command: string, env: NodeJS.ProcessEnv, os: string): string {
  if (os === 'win32') return command; // CreateProcess searches PATH and PATHEXT itself
  const found = command.includes('/') ? (existsSync(command) ? command : null) : whichOnPath(command, env);
  if (found) return isAbsolute(command) || !command.includes('/') ? found : command;
  throw errors.usageError({
    message: `cannot run ${command}: not found${command.includes('/') ? '' : ' on PATH'}`,
    hint: 'Give the command after `--` with its path, or put it on PATH.',
    phase: 'usage',
    changed: false,
  });
}

function startWatchdog(
  spawn: typeof import('node:child_process').spawn,
  cmd: WatchdogCommand,
  emit: (e: GuardEvent) => void,
): ChildProcess | null {
  try {
    const child = spawn(cmd.file, cmd.args, {
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true,
      env: { ...process.env, ...cmd.env },
      windowsHide: true,
    });
    child.on('error', (e) => emit({ type: 'warning', message: `watchdog: ${e.message}` }));
    child.stdin?.on('error', () => undefined);
    child.unref();
    return child;
  } catch (e) {
    emit({ type: 'warning', message: `watchdog could not start: ${(e as Error).message}` });
    return null;
  }
}

/**
 * Runs CMD guarded and resolves once CMD and everything it started are gone, with CMD's exit
 * status. Throws ERR_USAGE when CMD cannot be started; never exits or prints.
 */
export async function runGuarded(opts: RunGuardedOptions): Promise<GuardResult> {
  const started = Date.now();
  const emit = (e: GuardEvent) => opts.onEvent?.(e);
  const graceMs = opts.graceMs ?? DEFAULTS.runGraceMs;
  const timeoutMs = opts.timeoutMs ?? DEFAULTS.runTimeoutMs;
  const env = opts.env ?? process.env;
  // Loaded here, not at the top: importing core must not load child_process (and net, streams) for commands that spawn nothing.
  const { spawn } = await import('node:child_process');
  const guard = await getGuardBackend();
  const backend = await getBackend();
  const file = resolveCommand(opts.command, env, guard.os);

  const containment = opts.contain === false ? { mechanisms: [], warnings: ['containment disabled'] } : guard.contain();
  emit({ type: 'contain', ...containment });
  const warnings = [...containment.warnings];
  const mechanisms = [...containment.mechanisms];

  const watchdogCmd = guard.needsWatchdog && opts.watchdog !== false ? (opts.watchdog ?? defaultWatchdog()) : null;
  const watchdog = watchdogCmd ? startWatchdog(spawn, watchdogCmd, emit) : null;
  if (watchdog?.pid) mechanisms.push('watchdog');
  else if (guard.needsWatchdog) warnings.push("no watchdog: if this process is SIGKILLed, descendants that left CMD's tree survive");
  const tellWatchdog = (line: string) => {
    if (watchdog?.stdin?.writable) watchdog.stdin.write(`${line}\n`);
  };

  const spawnSpec =
    opts.contain === false ? { file, args: [...(opts.args ?? [])], detached: false, mechanisms: [] } : guard.command(file, opts.args ?? []);
  mechanisms.push(...spawnSpec.mechanisms);
  const child = spawn(spawnSpec.file, spawnSpec.args, {
    stdio: opts.stdio ?? 'inherit',
    cwd: opts.cwd,
    env,
    detached: spawnSpec.detached,
    windowsHide: true,
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (e) =>
      reject(
        errors.usageError({
          message: `cannot run ${opts.command}: ${e.message}`,
          hint: 'Check the command after `--`.',
          phase: 'usage',
          changed: false,
          cause: e,
        }),
      ),
    );
  });
  let cmdRunning = true;
  void exited.then(
    () => (cmdRunning = false),
    () => (cmdRunning = false),
  );
  await new Promise<void>((resolve) => {
    child.once('spawn', resolve);
    child.once('error', () => resolve());
  });
  const cmdPid = child.pid ?? -1;
  if (cmdPid > 0) {
    emit({ type: 'spawn', pid: cmdPid, command: [opts.command, ...(opts.args ?? [])] });
    opts.onSpawn?.(cmdPid);
  }

  const exclude = new Set<number>(watchdog?.pid ? [watchdog.pid] : []);
  const lineage = new Lineage(process.pid, exclude);
  let protectedPids = new Set<number>([process.pid, ...exclude]);
  let lastScan: LineageEntry[] = [];
  const track = async (): Promise<LineageEntry[]> => {
    const entries = await guard.scan();
    lastScan = entries;
    if (protectedPids.size <= exclude.size + 1) protectedPids = new Set([...selfAndAncestorPids(entries), ...exclude]);
    for (const e of lineage.update(entries)) tellWatchdog(`+ ${e.pid} ${e.startKey}`);
    guard.reap(lineage.zombieChildrenIn(entries).filter((pid) => pid !== cmdPid));
    return entries;
  };

  // Signals: forwarded to CMD; if CMD is still running a grace period later, everything is forced.
  let escalation: NodeJS.Timeout | undefined;
  let graceSpent = false;
  const forward = (signal: NodeJS.Signals) => {
    if (!cmdRunning) return;
    emit({ type: 'forward', signal, pid: cmdPid });
    try {
      child.kill(signal);
    } catch {
      // exited meanwhile
    }
    escalation ??= setTimeout(() => {
      graceSpent = true;
      if (cmdRunning) {
        emit({ type: 'signal', pid: cmdPid, name: opts.command, signal: 'SIGKILL' });
        child.kill('SIGKILL');
      }
    }, graceMs);
  };
  const handlers = opts.forwardSignals ? FORWARDED.map((s) => [s, () => forward(s)] as const) : [];
  for (const [s, h] of handlers) process.on(s, h);
  const onAbort = () =>
    forward(
      typeof opts.signal?.reason === 'string' && opts.signal.reason.startsWith('SIG') ? (opts.signal.reason as NodeJS.Signals) : 'SIGTERM',
    );
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();

  const stopped = new Map<string, GuardedProcess>();
  let survivors: GuardedProcess[] = [];
  try {
    let status: { code: number | null; signal: NodeJS.Signals | null };
    const interval = opts.trackIntervalMs ?? DEFAULTS.guardTrackIntervalMs;
    let tracking = true;
    const loop = (async () => {
      while (tracking) {
        await track().catch((e: Error) => emit({ type: 'warning', message: `tracking: ${e.message}` }));
        await Promise.race([sleep(interval), exited.catch(() => undefined)]);
      }
    })();
    try {
      status = await exited;
    } finally {
      tracking = false;
      await loop;
    }
    emit({ type: 'exit', pid: cmdPid, ...status });
    if (escalation) clearTimeout(escalation);

    // CMD is gone: SIGTERM what remains, grace, then the race-free force, until nothing is left.
    const live = async () => lineage.liveIn(await track()).filter((e) => !protectedPids.has(e.pid));
    let remaining = await live();
    emit({ type: 'cleanup', remaining: remaining.length });
    const key = (e: Pick<LineageEntry, 'pid' | 'startKey'>) => `${e.pid}:${e.startKey}`;
    for (const e of remaining) stopped.set(key(e), { pid: e.pid, name: e.name, how: 'exited' });
    if (remaining.length > 0 && !graceSpent && graceMs > 0) {
      for (const o of await backend.requestExit(remaining.map(asScoped), protectedPids)) {
        const e = remaining.find((r) => r.pid === o.pid);
        if (e && o.result === 'sent') {
          stopped.set(key(e), { pid: e.pid, name: e.name, how: 'terminated' });
          emit({ type: 'signal', pid: e.pid, name: e.name, signal: guard.os === 'win32' ? 'close' : 'SIGTERM' });
        }
      }
      const graceEnd = Date.now() + graceMs;
      while (Date.now() < graceEnd) {
        const ids = await Promise.all(remaining.map(async (e) => (await backend.identityOf(e.pid)) === e.startKey));
        remaining = remaining.filter((_, i) => ids[i]);
        if (remaining.length === 0) break;
        await sleep(POLL_MS);
      }
    }
    const deadline = Date.now() + timeoutMs;
    for (remaining = await live(); remaining.length > 0 && Date.now() < deadline; remaining = await live()) {
      const outcomes = await backend.forceKill(remaining.map(asScoped), {
        rescan: async () => (await live()).map(asScoped),
        protectedPids,
        onFreeze: (pids, round) => emit({ type: 'freeze', pids, round }),
      });
      for (const o of outcomes) {
        const p = o.process ?? asScoped(remaining.find((r) => r.pid === o.pid) ?? remaining[0]!);
        if (o.result === 'sent') {
          stopped.set(key(p), { pid: p.pid, name: p.name, how: 'killed' });
          emit({ type: 'signal', pid: p.pid, name: p.name, signal: 'SIGKILL' });
        } else if (o.result === 'gone' && !stopped.has(key(p))) stopped.set(key(p), { pid: p.pid, name: p.name, how: 'exited' });
      }
      await sleep(POLL_MS);
    }
    survivors = remaining.map((e) => ({ pid: e.pid, name: e.name, how: 'exited' as const }));
    lineage.prune(lastScan);
    for (const p of stopped.values()) emit({ type: 'exited', pid: p.pid, name: p.name, how: p.how });
    return {
      exitCode: exitStatusOf(status.code, status.signal),
      pid: cmdPid,
      code: status.code,
      signal: status.signal,
      mechanisms,
      warnings,
      stopped: [...stopped.values()],
      survivors: survivors.map(({ pid, name }) => ({ pid, name })),
      durationMs: Date.now() - started,
    };
  } finally {
    for (const [s, h] of handlers) process.off(s, h);
    opts.signal?.removeEventListener('abort', onAbort);
    if (escalation) clearTimeout(escalation);
    // Only a clean end says `done`; then the watchdog exits without touching anything.
    if (survivors.length === 0) tellWatchdog('done');
    watchdog?.stdin?.end();
    guard.reap(lineage.zombieChildrenIn(await guard.scan().catch(() => [])));
    guard.release();
  }
}
