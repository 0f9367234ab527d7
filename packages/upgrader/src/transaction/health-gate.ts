import { getBackend, type LlmUpgradeError, listeningOf, type Profile, errors, type ErrorDetails, DEFAULTS } from '@llm-upgrade/core';
import type { RestartPlan } from './journal.js';
import type { UpgradeEventSink } from '../events.js';
import { waitHealthy } from './checks.js';
import type { RestartOutcome, UnitProcess } from './restart.js';
import { inScopeNowFor } from './scope-now.js';

export interface HealthGateOptions {
  roots: string[];
  profile: Profile | undefined;
  healthTimeoutMs: number;
  /** A server that did not answer before must stay up this long (default 3 s). */
  stayUpMs: number;
  onEvent?: UpgradeEventSink | undefined;
  signal?: AbortSignal | undefined;
}

export interface HealthGateResult {
  /** answered: the health URL reports the new version; stayed-up: it never answered, the process stayed up and listens where it did. */
  how: 'answered' | 'stayed-up';
  url: string | null;
  warnings: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Ports some process of the install (the new version: the old one was stopped) listens on now. */
async function portsOfInstall(roots: string[], profile: Profile | undefined): Promise<Set<number>> {
  const ports = new Set<number>();
  for (const p of await inScopeNowFor(roots, profile)) for (const s of await listeningOf(p.pid).catch(() => [])) ports.add(s.port);
  return ports;
}

function healthError(message: string, logFile: string | null, details: ErrorDetails<'ERR_HEALTH'>): LlmUpgradeError {
  const log = logFile ? `; the new server's output is in ${logFile}` : '';
  return errors.healthError({
    message: `${message}${log}`,
    hint: logFile ? `Read ${logFile} for why the new version did not come up.` : 'Check the server log of the new version.',
    phase: 'health',
    changed: true,
    details: { ...details, ...(logFile ? { logFile } : {}) },
  });
}

/**
 * Each restarted systemd unit must still run the main process it started with (Restart=always
 * replacing a crashed one shows as another MainPID), and that process must run the new binary:
 * an executable under a root that was not replaced since it started.
 */
async function assertUnitsRunNewBinary(units: readonly UnitProcess[], opts: HealthGateOptions, logFile: string | null): Promise<void> {
  const scoped = await inScopeNowFor(opts.roots, opts.profile);
  const backend = await getBackend();
  for (const u of units) {
    const now = await backend.serviceState(u.service).catch(() => null);
    if (now?.active !== 'active' || now.mainPid !== u.mainPid) {
      throw healthError(
        `systemd unit ${u.service.name} no longer runs pid ${u.mainPid} (now ${now ? `${now.active}/${now.sub}, MainPID ${now.mainPid}` : 'unknown'}): the new version did not stay up`,
        logFile,
        { unit: u.service.name, mainPid: u.mainPid, ...(now ? { now } : {}) },
      );
    }
    const proc = scoped.find((p) => p.pid === u.mainPid);
    if (!proc || proc.exeDeleted) {
      throw healthError(
        `systemd unit ${u.service.name}'s main process (pid ${u.mainPid}, ${proc?.exe ?? 'exe unknown'}) ${proc ? 'runs a replaced binary' : 'does not run a binary of the install'}`,
        logFile,
        { unit: u.service.name, mainPid: u.mainPid, exe: proc?.exe ?? null },
      );
    }
  }
}

/**
 * Health relative to before the stop. A server that answered its health URL then must answer
 * it now with the new version, from a process of the install. One that did not (another port,
 * no HTTP at all) must stay up `stayUpMs` and listen again on every port it listened on.
 */
export async function healthGate(
  plan: RestartPlan,
  started: RestartOutcome,
  version: string,
  opts: HealthGateOptions,
): Promise<HealthGateResult> {
  const health = plan.health ?? null;
  if (health?.answeredBefore) {
    await waitHealthy(health.url, version, {
      timeoutMs: opts.healthTimeoutMs,
      onEvent: opts.onEvent,
      signal: opts.signal,
      logFile: started.logFile,
    });
    const port = Number(new URL(health.url).port || 80);
    if (!(await portsOfInstall(opts.roots, opts.profile)).has(port)) {
      throw healthError(`${health.url} answers, but no process of the install listens on port ${port}`, started.logFile, {
        url: health.url,
      });
    }
    if (started.units?.length) await assertUnitsRunNewBinary(started.units, opts, started.logFile);
    return { how: 'answered', url: health.url, warnings: [] };
  }
  const ports = [...new Set((plan.processes ?? []).flatMap((p) => p.listening.map((s) => s.port)))];
  const t0 = Date.now();
  const deadline = t0 + Math.max(opts.healthTimeoutMs, opts.stayUpMs);
  let listening = new Set<number>();
  for (;;) {
    const dead = started.pids.filter((pid) => !alive(pid));
    if (dead.length)
      throw healthError(`the restarted server (pid ${dead.join(', ')}) exited within ${Date.now() - t0} ms`, started.logFile, {
        pids: dead,
      });
    if (opts.signal?.aborted) throw healthError('interrupted while waiting for the new server', started.logFile, {});
    listening = ports.length ? await portsOfInstall(opts.roots, opts.profile) : listening;
    const missing = ports.filter((p) => !listening.has(p));
    if (Date.now() - t0 >= opts.stayUpMs && missing.length === 0) break;
    if (Date.now() >= deadline)
      throw healthError(`the restarted server does not listen on port(s) ${missing.join(', ')} as the old one did`, started.logFile, {
        ports,
        missing,
      });
    await sleep(DEFAULTS.healthPollMs);
  }
  if (started.units?.length) await assertUnitsRunNewBinary(started.units, opts, started.logFile);
  const why = health ? `${health.url} did not answer before the upgrade either` : 'there is no health URL to ask';
  const warnings = [
    `${why}, so the health gate checked that the new server stays up ${Math.round(opts.stayUpMs / 100) / 10} s${ports.length ? ` and listens on port(s) ${ports.join(', ')} again` : ''}`,
  ];
  for (const w of warnings) opts.onEvent?.({ type: 'warning', message: w });
  return { how: 'stayed-up', url: health?.url ?? null, warnings };
}
