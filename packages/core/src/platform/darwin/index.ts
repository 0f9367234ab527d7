// macOS backend: `ps` for the process list (one call for pid/ppid/user/state/lstart/comm and one
// for args), `lsof` for executables ps cannot name and for holders, launchctl for launchd jobs,
// signals with the freeze-kill algorithm. Identity is the lstart text (one-second resolution).
import { existsSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import * as errors from '../../error-factories.js';
import { queryNvidiaSmi } from '../../gpu.js';
import type { GpuUsage, Holder, ProcessInfo, ScopedProcess, ServiceRef, Snapshot } from '../../types.js';
import type { ForceKillContext, PlatformBackend, ServiceStarted, ServiceState, SignalOutcome } from '../backend.js';
import { freezeKill, sendSignal } from '../posix/index.js';
import { matchLaunchdJobs, parseLaunchctlList } from './launchctl.js';
import { executables, kindOf, LSOF_FIELDS, parseLsof } from './lsof.js';
import { parsePsArgs, parsePsStat, PS_ARGS_ARGS, PS_STAT_ARGS, toProcesses, type PsRow } from './ps.js';
import { execFileText, type Exec } from '../../exec.js';
import { DEFAULTS } from '../../defaults.js';

const C_LOCALE = { ...process.env, LC_ALL: 'C', LANG: 'C' };

export interface DarwinBackendOptions {
  exec?: Exec;
  kill?: (pid: number, signal: NodeJS.Signals) => void;
  sleep?: (ms: number) => Promise<void>;
  uid?: number;
  /** Resolves symlinks in an absolute argv[0] (Homebrew's bin/ollama → Cellar/…). */
  realpath?: (path: string) => string;
  exists?: (path: string) => boolean;
  home?: string;
}

/** Where launchd loads a job's plist from: daemons for root (system domain), agents for a user's gui domain. */
export function launchdPlistCandidates(label: string, uid: number, home: string): string[] {
  const file = `${label}.plist`;
  return uid === 0 ? [`/Library/LaunchDaemons/${file}`] : [`${home}/Library/LaunchAgents/${file}`, `/Library/LaunchAgents/${file}`];
}

/** APFS and HFS+ are case-insensitive by default and store names decomposed (NFD). */
export function darwinPathKey(path: string): string {
  const p = path.normalize('NFC').toLowerCase();
  return p.length > 1 ? p.replace(/\/+$/, '') : p;
}

function under(path: string, roots: readonly string[]): boolean {
  const p = darwinPathKey(path);
  return roots.some((r) => {
    const k = darwinPathKey(r);
    return p === k || p.startsWith(k.endsWith('/') ? k : `${k}/`);
  });
}

export class DarwinBackend implements PlatformBackend {
  readonly os = 'darwin' as const;
  private readonly exec: Exec;
  private readonly kill: (pid: number, signal: NodeJS.Signals) => void;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly realpath: (path: string) => string;
  private readonly uid: number;
  private readonly exists: (path: string) => boolean;
  private readonly home: string;
  private lastPpid = new Map<number, number>();

  constructor(options: DarwinBackendOptions = {}) {
    this.exec = options.exec ?? execFileText;
    this.kill = options.kill ?? ((pid, signal) => process.kill(pid, signal));
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.realpath = options.realpath ?? ((p) => realpathSync(p));
    this.uid = options.uid ?? process.getuid?.() ?? 0;
    this.exists = options.exists ?? existsSync;
    this.home = options.home ?? homedir();
  }

  async snapshot(): Promise<Snapshot> {
    const takenAt = Date.now();
    const [stat, args] = await Promise.all([
      this.exec('ps', PS_STAT_ARGS, { env: C_LOCALE }),
      this.exec('ps', PS_ARGS_ARGS, { env: C_LOCALE }),
    ]);
    if (stat.code !== 0) {
      throw errors.internalError({
        message: `ps failed: ${stat.error ?? stat.stderr.trim()}`,
        hint: 'Check that /bin/ps runs for this user.',
        phase: 'status',
        changed: false,
      });
    }
    const rows = parsePsStat(stat.stdout);
    const argText = parsePsArgs(args.stdout);
    const needLsof = rows.filter((r) => !r.comm.startsWith('/') && r.pid !== 0 && !r.state.startsWith('Z')).map((r) => r.pid);
    const fromLsof = needLsof.length
      ? executables(parseLsof((await this.lsof(needLsof, ['-d', 'txt'])).stdout))
      : new Map<number, string>();
    const exeOf = (r: PsRow): string | null => {
      if (r.comm.startsWith('/')) {
        try {
          return this.realpath(r.comm);
        } catch {
          return r.comm;
        }
      }
      return fromLsof.get(r.pid) ?? null;
    };
    const { processes, unreadable } = toProcesses(rows, argText, exeOf);
    this.lastPpid = new Map(rows.map((r) => [r.pid, r.ppid]));
    return { processes, unreadable, takenAt };
  }

  async identityOf(pid: number): Promise<string | null> {
    return (await this.identities([pid])).get(pid) ?? null;
  }

  pathKey(path: string): string {
    return darwinPathKey(path);
  }

  async findServices(processes: ScopedProcess[], serviceNames: string[]): Promise<ServiceRef[]> {
    const r = await this.exec('launchctl', ['list']);
    if (r.code !== 0) return [];
    return matchLaunchdJobs(parseLaunchctlList(r.stdout), processes, serviceNames, (pid) => this.ancestorsOf(pid));
  }

  /**
   * `launchctl bootout` unloads the job so KeepAlive cannot respawn it (`launchctl stop` would
   * just restart it); `launchctl remove` is the fallback for older launchd. Then wait until the
   * label no longer lists a pid.
   */
  async stopService(service: ServiceRef, timeoutMs: number): Promise<void> {
    const domain = this.domain();
    const boot = await this.exec('launchctl', ['bootout', `${domain}/${service.name}`], { timeoutMs });
    if (boot.code !== 0) await this.exec('launchctl', ['remove', service.name], { timeoutMs });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const list = await this.exec('launchctl', ['list']);
      const job = parseLaunchctlList(list.stdout).find((j) => j.label === service.name);
      if (!job || job.pid === null) return;
      if (Date.now() >= deadline) {
        throw errors.survivorsError({
          message: `launchd job ${service.name} still runs pid ${job.pid} after ${timeoutMs} ms`,
          hint: `Unload it yourself (launchctl bootout ${domain}/${service.name}) and run the command again.`,
          phase: 'stop',
          changed: true,
        });
      }
      await this.sleep(DEFAULTS.servicePollMs);
    }
  }

  /**
   * `launchctl kickstart` starts a loaded job; stopService's bootout unloaded it, so the job's
   * plist is bootstrapped again first, from the directory launchd loads that domain's jobs from.
   */
  async startService(service: ServiceRef, timeoutMs: number): Promise<ServiceStarted> {
    const domain = this.domain();
    const target = `${domain}/${service.name}`;
    let r = await this.exec('launchctl', ['kickstart', target], { timeoutMs });
    if (r.code !== 0) {
      const plist = launchdPlistCandidates(service.name, this.uid, this.home).find((p) => this.exists(p));
      if (plist) {
        await this.exec('launchctl', ['bootstrap', domain, plist], { timeoutMs });
        r = await this.exec('launchctl', ['kickstart', target], { timeoutMs });
      }
    }
    if (r.code !== 0) {
      throw errors.healthError({
        message: `launchctl kickstart ${target} failed: ${(r.stderr || r.error || '').trim()}`,
        hint: `Load and start the job yourself (launchctl bootstrap ${domain} <plist>; launchctl kickstart ${target}).`,
        phase: 'restart',
        changed: true,
        details: { service: service.name },
      });
    }
    return { mainPid: null };
  }

  /** launchd's `launchctl print` output is not a stable interface: the state stays unknown. */
  async serviceState(): Promise<ServiceState | null> {
    return null;
  }

  async resume(pid: number, startKey: string): Promise<SignalOutcome> {
    if ((await this.identityOf(pid)) !== startKey) return { pid, result: 'gone' };
    return this.send(pid, 'SIGCONT');
  }

  async requestExit(targets: ScopedProcess[], protectedPids: ReadonlySet<number>): Promise<SignalOutcome[]> {
    const ids = await this.identities(targets.map((t) => t.pid));
    return targets.map((t) => {
      if (protectedPids.has(t.pid))
        return { pid: t.pid, result: 'failed', detail: `pid ${t.pid} is protected (our own process or an ancestor)`, process: t };
      if (ids.get(t.pid) !== t.startKey) return { pid: t.pid, result: 'gone', process: t };
      return { ...this.send(t.pid, 'SIGTERM'), process: t };
    });
  }

  forceKill(targets: ScopedProcess[], ctx: ForceKillContext): Promise<SignalOutcome[]> {
    return freezeKill(targets, ctx, {
      identities: (pids) => this.identities(pids),
      send: (pid, signal) => this.send(pid, signal),
      waitStopped: (pids, timeoutMs) => this.waitStopped(pids, timeoutMs),
    });
  }

  async scanHolders(roots: string[], snapshot: Snapshot): Promise<{ holders: Omit<Holder, 'inScope'>[]; unknown: ProcessInfo[] }> {
    const candidates = [...snapshot.processes, ...snapshot.unreadable].filter((p) => p.pid !== 0 && p.state !== 'Z');
    if (!candidates.length) return { holders: [], unknown: [] };
    const r = await this.lsof(
      candidates.map((p) => p.pid),
      [],
    );
    const seen = parseLsof(r.stdout);
    const byPid = new Map(candidates.map((p) => [p.pid, p]));
    const holders: Omit<Holder, 'inScope'>[] = [];
    for (const lp of seen) {
      const p = byPid.get(lp.pid);
      const exe = p?.exe ?? null;
      const keys = new Set<string>();
      for (const f of lp.files) {
        if (!f.name.startsWith('/') || !under(f.name, roots)) continue;
        const kind = kindOf(f, exe);
        if (!kind || keys.has(`${kind}\0${f.name}`)) continue;
        keys.add(`${kind}\0${f.name}`);
        holders.push({ pid: lp.pid, name: p?.name ?? lp.command, exe, path: f.name, kind });
      }
    }
    // lsof prints nothing for processes it may not inspect (other users' without root).
    const listed = new Set(seen.map((p) => p.pid));
    const ids = await this.identities(candidates.filter((p) => !listed.has(p.pid)).map((p) => p.pid));
    const unknown = candidates.filter((p) => !listed.has(p.pid) && ids.get(p.pid) === p.startKey);
    return { holders, unknown };
  }

  gpuUsage(): Promise<GpuUsage[]> {
    return queryNvidiaSmi({ exec: this.exec });
  }

  private domain(): string {
    return this.uid === 0 ? 'system' : `gui/${this.uid}`;
  }

  private lsof(pids: number[], extra: string[]) {
    return this.exec('lsof', ['-n', '-P', '-w', `-F${LSOF_FIELDS}`, ...extra, '-a', '-p', pids.join(',')], {
      timeoutMs: 60_000,
      env: C_LOCALE,
    });
  }

  private async identities(pids: number[]): Promise<Map<number, string | null>> {
    const out = new Map<number, string | null>(pids.map((p) => [p, null]));
    if (!pids.length) return out;
    const r = await this.exec('ps', ['-o', 'pid=,ppid=,user=,state=,lstart=,comm=', '-p', pids.join(',')], { env: C_LOCALE });
    for (const row of parsePsStat(r.stdout)) {
      if (out.has(row.pid) && !row.state.startsWith('Z')) out.set(row.pid, row.start.key);
    }
    return out;
  }

  private send(pid: number, signal: NodeJS.Signals): SignalOutcome {
    return sendSignal(pid, signal, this.kill);
  }

  private async waitStopped(pids: number[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (pids.length && Date.now() < deadline) {
      const r = await this.exec('ps', ['-o', 'pid=,state=', '-p', pids.join(',')], { env: C_LOCALE });
      pids = r.stdout
        .split('\n')
        .map((l) => /^\s*(\d+)\s+(\S+)/.exec(l))
        .filter((m): m is RegExpExecArray => m !== null && !/^[TZ]/.test(m[2] ?? ''))
        .map((m) => Number(m[1]));
      if (pids.length) await this.sleep(5);
    }
  }

  private ancestorsOf(pid: number): number[] {
    const out: number[] = [];
    let cur = this.lastPpid.get(pid) ?? 0;
    while (cur > 1 && !out.includes(cur) && out.length < 64) {
      out.push(cur);
      cur = this.lastPpid.get(cur) ?? 0;
    }
    return out;
  }
}
