// Windows services through sc.exe: which service owns an in-scope pid (`sc queryex`), and
// stopping it through the Service Control Manager so it is not restarted under us. sc's field
// labels (SERVICE_NAME, STATE, PID) are the same in every UI language.
import type { LlmUpgradeError } from '../../errors.js';
import * as errors from '../../error-factories.js';
import type { ScopedProcess, ServiceRef } from '../../types.js';
import type { Exec } from '../../exec.js';
import { DEFAULTS } from '../../defaults.js';

export const SERVICE_STOPPED = 1;
export const SERVICE_STOP_PENDING = 3;
export const SERVICE_RUNNING = 4;

const ERROR_ACCESS_DENIED = 5;
const ERROR_SERVICE_DOES_NOT_EXIST = 1060;
const ERROR_SERVICE_NOT_ACTIVE = 1062;
const ERROR_SERVICE_ALREADY_RUNNING = 1056;

export interface ScService {
  name: string;
  displayName: string | null;
  /** SERVICE_WIN32_OWN_PROCESS = 0x10, SHARE_PROCESS = 0x20 (svchost), + 0x100 interactive. */
  type: number | null;
  state: number | null;
  stateName: string | null;
  pid: number | null;
}

export interface ScFailure {
  operation: string;
  code: number;
  message: string;
}

/** Blocks of `sc query` / `sc queryex` / `sc stop` output. */
export function parseScServices(text: string): ScService[] {
  const out: ScService[] = [];
  let cur: ScService | null = null;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const m = /^([A-Z_]+)\s*:\s*(.*)$/.exec(line);
    if (!m) continue;
    const [, key, value = ''] = m;
    if (key === 'SERVICE_NAME') {
      cur = { name: value.trim(), displayName: null, type: null, state: null, stateName: null, pid: null };
      out.push(cur);
      continue;
    }
    if (!cur) continue;
    if (key === 'DISPLAY_NAME') cur.displayName = value.trim();
    else if (key === 'TYPE') cur.type = Number.parseInt(value, 16);
    else if (key === 'STATE') {
      const s = /^(\d+)\s+(\S+)/.exec(value);
      if (s) {
        cur.state = Number(s[1]);
        cur.stateName = s[2] ?? null;
      }
    } else if (key === 'PID') {
      const pid = Number.parseInt(value, 10);
      cur.pid = Number.isFinite(pid) && pid > 0 ? pid : null;
    }
  }
  return out;
}

/** `[SC] OpenService FAILED 5:` followed by the system message. */
export function parseScFailure(text: string): ScFailure | null {
  const m = /\[SC\]\s*(\S+)\s+FAILED\s+(\d+):?\s*([\s\S]*)$/.exec(text);
  if (!m) return null;
  return { operation: m[1] ?? '', code: Number(m[2]), message: (m[3] ?? '').trim().split(/\r?\n/).filter(Boolean).join(' ') };
}

/**
 * `sc queryex` prints TYPE as "10  WIN32_OWN_PROCESS": the number is hexadecimal without 0x
 * (0x10), so parseInt(…, 16) above gives the real flag value.
 */
function ownProcess(s: ScService): boolean {
  return s.type !== null && (s.type & 0x10) !== 0;
}

export interface FindServicesInput {
  processes: readonly ScopedProcess[];
  serviceNames: readonly string[];
  /** Live ancestors of a pid, nearest first. */
  ancestorsOf(pid: number): number[];
}

/**
 * A service owns an in-scope process when its PID is that process, or when it is named in the
 * profile, runs in its own process (not a shared svchost) and is an ancestor of it (a wrapper
 * such as nssm/WinSW launching the server). Unnamed ancestors are never taken: a scheduled
 * task's or a shell's host service must not be stopped.
 */
export function matchServices(services: readonly ScService[], input: FindServicesInput): ServiceRef[] {
  const inScope = input.processes.filter((p) => p.inScope);
  const scopePids = new Set(inScope.map((p) => p.pid));
  const named = new Set(input.serviceNames.map((n) => n.toLowerCase()));
  const refs: ServiceRef[] = [];
  for (const s of services) {
    if (s.pid === null || s.state === SERVICE_STOPPED) continue;
    const pids = new Set<number>();
    if (scopePids.has(s.pid)) pids.add(s.pid);
    if (named.has(s.name.toLowerCase()) && ownProcess(s)) {
      for (const p of inScope) if (input.ancestorsOf(p.pid).includes(s.pid)) pids.add(p.pid);
    }
    if (pids.size) refs.push({ manager: 'windows-service', name: s.name, pids: [...pids].sort((a, b) => a - b) });
  }
  return refs;
}

export async function listServices(exec: Exec): Promise<ScService[]> {
  const r = await exec('sc.exe', ['queryex', 'type=', 'service', 'state=', 'all'], { timeoutMs: DEFAULTS.serviceCallMs });
  if (r.code !== 0) return [];
  return parseScServices(r.stdout);
}

export interface StopServiceDeps {
  exec: Exec;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  pollMs?: number;
}

function stopError(name: string, message: string, hint: string, changed: boolean): LlmUpgradeError {
  return errors.survivorsError({ message, hint, phase: 'stop', changed, details: { service: name } });
}

/** `sc stop NAME`, then `sc query NAME` until STOPPED or the deadline. */
export async function stopWindowsService(name: string, timeoutMs: number, deps: StopServiceDeps): Promise<void> {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = deps.now ?? Date.now;
  const deadline = now() + timeoutMs;
  const stop = await deps.exec('sc.exe', ['stop', name], { timeoutMs: DEFAULTS.serviceCallMs });
  const failure = parseScFailure(`${stop.stdout}\n${stop.stderr}`);
  if (failure?.code === ERROR_SERVICE_DOES_NOT_EXIST || failure?.code === ERROR_SERVICE_NOT_ACTIVE) return;
  if (failure?.code === ERROR_ACCESS_DENIED) {
    throw stopError(
      name,
      `Windows service ${name}: sc stop was denied (${failure.message || 'access denied'})`,
      'Run the command from an elevated (Administrator) prompt.',
      false,
    );
  }
  if (stop.error)
    throw stopError(
      name,
      `Windows service ${name}: could not run sc.exe (${stop.error})`,
      'Stop the service from services.msc and run the command again.',
      false,
    );
  for (;;) {
    const q = await deps.exec('sc.exe', ['query', name], { timeoutMs: DEFAULTS.serviceCallMs });
    const s = parseScServices(q.stdout)[0];
    const qFail = parseScFailure(`${q.stdout}\n${q.stderr}`);
    if (qFail?.code === ERROR_SERVICE_DOES_NOT_EXIST || s?.state === SERVICE_STOPPED) return;
    if (now() >= deadline) {
      throw stopError(
        name,
        `Windows service ${name} is still ${s?.stateName ?? 'running'} after ${timeoutMs} ms`,
        'Stop the service from services.msc (or raise --timeout) and run the command again.',
        true,
      );
    }
    // ERROR_SERVICE_CANNOT_ACCEPT_CTRL (1061) while START_PENDING: ask again once it has started.
    if (failure?.code === 1061 && s?.state !== SERVICE_STOP_PENDING)
      await deps.exec('sc.exe', ['stop', name], { timeoutMs: DEFAULTS.serviceCallMs });
    await sleep(deps.pollMs ?? DEFAULTS.servicePollMs);
  }
}

/** `sc start NAME`, then `sc query NAME` until RUNNING or the deadline (already running is fine). */
export async function startWindowsService(name: string, timeoutMs: number, deps: StopServiceDeps): Promise<void> {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = deps.now ?? Date.now;
  const deadline = now() + timeoutMs;
  const fail = (message: string, hint: string) =>
    errors.healthError({ message, hint, phase: 'restart', changed: true, details: { service: name } });
  const start = await deps.exec('sc.exe', ['start', name], { timeoutMs: DEFAULTS.serviceCallMs });
  const failure = parseScFailure(`${start.stdout}\n${start.stderr}`);
  if (start.error) throw fail(`Windows service ${name}: could not run sc.exe (${start.error})`, 'Start the service from services.msc.');
  if (failure && failure.code !== ERROR_SERVICE_ALREADY_RUNNING) {
    throw fail(
      `Windows service ${name}: sc start failed ${failure.code} (${failure.message})`,
      failure.code === ERROR_ACCESS_DENIED
        ? 'Run the command from an elevated (Administrator) prompt.'
        : 'Start the service from services.msc and read the Windows event log.',
    );
  }
  for (;;) {
    const q = await deps.exec('sc.exe', ['query', name], { timeoutMs: DEFAULTS.serviceCallMs });
    const s = parseScServices(q.stdout)[0];
    if (s?.state === SERVICE_RUNNING) return;
    if (now() >= deadline)
      throw fail(
        `Windows service ${name} is still ${s?.stateName ?? 'not running'} after ${timeoutMs} ms`,
        'Start the service from services.msc (or raise --timeout) and read the Windows event log.',
      );
    await sleep(deps.pollMs ?? DEFAULTS.servicePollMs);
  }
}
