// Windows backend. Discovery and termination go through an injected WinApi (koffi in
// production, fakes in tests) and an injected Exec (taskkill, sc, PowerShell, nvidia-smi).
// When koffi cannot load, discovery falls back to PowerShell CIM (startKey prefixed `cim:`,
// `discovery === 'cim'`), termination to taskkill alone, and holders to the rename probe.
import * as errors from '../../error-factories.js';
import { queryNvidiaSmi } from '../../gpu.js';
import type { GpuUsage, Holder, ProcessInfo, ScopedProcess, ServiceRef, Snapshot } from '../../types.js';
import type { ForceKillContext, PlatformBackend, ServiceStarted, ServiceState, SignalOutcome } from '../backend.js';
import { queryCimProcesses } from './cim.js';
import { execFileText, type Exec } from '../../exec.js';
import { scanWindowsHolders } from './holders.js';
import { createNativeWinApi } from './native.js';
import { listServices, matchServices, startWindowsService, stopWindowsService } from './services.js';
import { Win32Terminator } from './terminate.js';
import { readNativeSnapshot } from './toolhelp.js';
import { ERROR_INVALID_PARAMETER, PROCESS_QUERY_LIMITED_INFORMATION, SYNCHRONIZE, type WinApi } from './winapi.js';

export { loadKoffi, setKoffiNativeSource, KOFFI_NATIVE_ENV, KOFFI_SEA_ASSET } from '../win32/koffi-loader.js';

/** New in-scope processes can appear while a tree dies; rescan and kill at most this often. */
const MAX_FORCE_ROUNDS = 10;

export interface Win32BackendOptions {
  /** Default: koffi bindings; null forces the CIM fallback. */
  api?: WinApi | null;
  exec?: Exec;
  env?: NodeJS.ProcessEnv;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/** Case-insensitive, backslashes, no `\\?\` prefix, no trailing separator. */
export function win32PathKey(path: string): string {
  let p = path.replace(/\//g, '\\');
  if (p.startsWith('\\\\?\\UNC\\')) p = `\\\\${p.slice(8)}`;
  else if (p.startsWith('\\\\?\\') || p.startsWith('\\??\\')) p = p.slice(4);
  p = p.replace(/\\+$/, '');
  return p.toLowerCase();
}

export class Win32Backend implements PlatformBackend {
  readonly os = 'win32' as const;
  /** Where process data comes from: koffi (native) or PowerShell CIM. */
  readonly discovery: 'native' | 'cim';
  private readonly api: WinApi | null;
  private readonly exec: Exec;
  private readonly env: NodeJS.ProcessEnv;
  private readonly terminator: Win32Terminator;
  private readonly options: Win32BackendOptions;
  private lastRawPpid = new Map<number, number>();
  private lastPpid = new Map<number, number>();

  constructor(options: Win32BackendOptions = {}) {
    this.options = options;
    this.api = options.api === undefined ? createNativeWinApi() : options.api;
    this.discovery = this.api ? 'native' : 'cim';
    this.exec = options.exec ?? execFileText;
    this.env = options.env ?? process.env;
    this.terminator = new Win32Terminator({
      api: this.api,
      exec: this.exec,
      rawParents: () => this.rawParents(),
      currentKeys: (pids) => this.currentCimKeys(pids),
    });
  }

  async snapshot(): Promise<Snapshot> {
    const native = this.api ? readNativeSnapshot(this.api, this.options.now) : null;
    const read = native ?? (await queryCimProcesses(this.exec, undefined, this.options.now));
    if (!read) {
      throw errors.internalError({
        message: 'cannot list Windows processes: Toolhelp32 (koffi) is unavailable and PowerShell Get-CimInstance did not answer',
        hint: 'Install with npm so koffi can load, or make powershell.exe available, and run the command again.',
        phase: 'status',
        changed: false,
      });
    }
    this.lastRawPpid = read.rawPpid;
    this.lastPpid = new Map([...read.snapshot.processes, ...read.snapshot.unreadable].map((p) => [p.pid, p.ppid]));
    return read.snapshot;
  }

  async identityOf(pid: number): Promise<string | null> {
    if (!this.api) return (await this.currentCimKeys([pid])).get(pid) ?? null;
    const r = this.api.openProcess(pid, PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE);
    if (!r.ok) {
      // Denied: it exists but we cannot read its creation time; it can never match a startKey
      // we recorded, and callers treat a mismatch as "not the process we saw".
      return r.error === ERROR_INVALID_PARAMETER ? null : `unreadable:${pid}`;
    }
    try {
      if (r.handle.waitForExit(0)) return null;
      return r.handle.creationTime()?.toString() ?? `unreadable:${pid}`;
    } finally {
      r.handle.close();
    }
  }

  pathKey(path: string): string {
    return win32PathKey(path);
  }

  async findServices(processes: ScopedProcess[], serviceNames: string[]): Promise<ServiceRef[]> {
    const services = await listServices(this.exec);
    return matchServices(services, { processes, serviceNames, ancestorsOf: (pid) => this.ancestorsOf(pid) });
  }

  async stopService(service: ServiceRef, timeoutMs: number): Promise<void> {
    await stopWindowsService(service.name, timeoutMs, {
      exec: this.exec,
      ...(this.options.sleep ? { sleep: this.options.sleep } : {}),
      ...(this.options.now ? { now: this.options.now } : {}),
    });
  }

  async startService(service: ServiceRef, timeoutMs: number): Promise<ServiceStarted> {
    await startWindowsService(service.name, timeoutMs, {
      exec: this.exec,
      ...(this.options.sleep ? { sleep: this.options.sleep } : {}),
      ...(this.options.now ? { now: this.options.now } : {}),
    });
    return { mainPid: null };
  }

  /** `sc queryex` would name the PID; not needed while only systemd units are health-checked by main process. */
  async serviceState(): Promise<ServiceState | null> {
    return null;
  }

  /** Windows termination never suspends a process, so nothing is ever left to continue. */
  async resume(pid: number): Promise<SignalOutcome> {
    return { pid, result: 'failed', detail: 'the Windows backend never freezes processes' };
  }

  requestExit(targets: ScopedProcess[], protectedPids: ReadonlySet<number>): Promise<SignalOutcome[]> {
    return this.terminator.requestExit(targets, protectedPids);
  }

  async forceKill(targets: ScopedProcess[], ctx: ForceKillContext): Promise<SignalOutcome[]> {
    const outcomes = new Map<number, SignalOutcome>();
    const handled = new Set<string>();
    let pending = targets;
    for (let round = 1; pending.length > 0 && round <= MAX_FORCE_ROUNDS; round++) {
      for (const p of pending) handled.add(`${p.pid}:${p.startKey}`);
      for (const o of await this.terminator.forceKill(pending, ctx.protectedPids)) outcomes.set(o.pid, o);
      const now = await ctx.rescan();
      pending = now.filter((p) => p.inScope && !ctx.protectedPids.has(p.pid) && !handled.has(`${p.pid}:${p.startKey}`));
    }
    return [...outcomes.values()];
  }

  async scanHolders(roots: string[], snapshot: Snapshot): Promise<{ holders: Omit<Holder, 'inScope'>[]; unknown: ProcessInfo[] }> {
    const r = scanWindowsHolders(roots, snapshot, { rm: this.api?.restartManager ?? null, pathKey: win32PathKey });
    return { holders: r.holders, unknown: r.unknown };
  }

  gpuUsage(): Promise<GpuUsage[]> {
    const candidates = ['nvidia-smi.exe'];
    if (this.env.ProgramFiles) candidates.push(`${this.env.ProgramFiles}\\NVIDIA Corporation\\NVSMI\\nvidia-smi.exe`);
    if (this.env.SystemRoot) candidates.push(`${this.env.SystemRoot}\\System32\\nvidia-smi.exe`);
    return queryNvidiaSmi({ candidates, exec: this.exec });
  }

  private ancestorsOf(pid: number): number[] {
    const out: number[] = [];
    let cur = this.lastPpid.get(pid) ?? 0;
    while (cur !== 0 && !out.includes(cur) && out.length < 64) {
      out.push(cur);
      cur = this.lastPpid.get(cur) ?? 0;
    }
    return out;
  }

  private async rawParents(): Promise<Map<number, number>> {
    const rows = this.api?.listProcesses();
    if (rows) return new Map(rows.map((r) => [r.pid, r.ppid]));
    if (!this.api) {
      const cim = await queryCimProcesses(this.exec, undefined, this.options.now);
      if (cim) return cim.rawPpid;
    }
    return this.lastRawPpid;
  }

  private async currentCimKeys(pids: number[]): Promise<Map<number, string | null>> {
    const cim = await queryCimProcesses(this.exec, pids.length === 1 ? pids[0] : undefined, this.options.now);
    const keys = new Map<number, string | null>();
    const live = new Map((cim?.snapshot.processes ?? []).map((p) => [p.pid, p.startKey]));
    // No answer means no proof of identity: report it as gone so it is never touched blindly.
    for (const pid of pids) keys.set(pid, live.get(pid) ?? null);
    return keys;
  }
}
