// Linux backend: everything is read from /proc directly (no `ps`): one pass is a few syscalls per
// process, sees ` (deleted)` executables, full names beyond comm's 15 characters, and the
// systemd unit of each process. Reads are synchronous on purpose: /proc never touches a disk,
// and the thread-pool round trip of async fs costs more than the read itself.
import { closeSync, openSync, readFileSync, readSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { queryNvidiaSmi } from '../gpu.js';
import { execFileText } from '../exec.js';
import { LlmUpgradeError } from '../errors.js';
import { isUnderAnyRoot } from '../scope.js';
import type { GpuUsage, Holder, HolderKind, ProcessInfo, ScopedProcess, ServiceRef, Snapshot } from '../types.js';
import { freezeKill } from './posix-freeze-kill.js';
import { ERRNO, pidfdApi } from './linux-pidfd.js';
import { parseMountinfo, rootAliases } from './linux-mounts.js';
import type { ForceKillContext, PlatformBackend, SignalOutcome } from './backend.js';

/** PF_KTHREAD in /proc/PID/stat flags: kernel threads have no exe, files or user space. */
const PF_KTHREAD = 0x00200000;
const DELETED = ' (deleted)';

export interface StatFields {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  flags: number;
  /** Field 22: start time in clock ticks since boot. */
  startTicks: string;
  /** Field 20. */
  numThreads: number;
}

/** Parses /proc/PID/stat. comm may contain spaces and `) `, so the fields are read after the LAST `)`. */
export function parseStat(text: string): StatFields | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const rest = text.slice(close + 2).split(' ');
  const pid = Number(text.slice(0, open).trim());
  const startTicks = rest[19];
  if (!Number.isInteger(pid) || rest.length < 20 || startTicks === undefined) return null;
  return { pid, comm: text.slice(open + 1, close), state: rest[0] ?? '?', ppid: Number(rest[1]), flags: Number(rest[6]), startTicks, numThreads: Number(rest[17]) };
}

export function stripDeleted(path: string): { path: string; deleted: boolean } {
  return path.endsWith(DELETED) ? { path: path.slice(0, -DELETED.length), deleted: true } : { path, deleted: false };
}

/** The systemd service a process belongs to, from /proc/PID/cgroup (v1 `name=systemd` or v2 `0::`). */
export function parseCgroupUnit(text: string): { unit: string; scope: 'system' | 'user'; uid?: number } | null {
  const lines = text.split('\n');
  const line = lines.find((l) => /^\d+:name=systemd:/.test(l)) ?? lines.find((l) => l.startsWith('0::'));
  if (!line) return null;
  const segments = line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1).split('/');
  let unit: string | undefined;
  let uid: number | undefined;
  for (const seg of segments) {
    const manager = /^user@(\d+)\.service$/.exec(seg);
    if (manager) uid = Number(manager[1]);
    else if (seg.endsWith('.service')) unit = seg;
  }
  if (!unit) return null; // a session scope, or the user manager itself: never stopped by us
  return uid === undefined ? { unit, scope: 'system' } : { unit, scope: 'user', uid };
}

/** Distinct file paths in /proc/PID/maps (the pathname column may contain spaces). */
export function parseMapsPaths(text: string): string[] {
  const out = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^\S+\s+\S+\s+\S+\s+\S+\s+\d+\s+(\/.*)$/.exec(line);
    if (m?.[1]) out.add(m[1]);
  }
  return [...out];
}

/**
 * The /proc mount option that hides other users' processes (hidepid=1|2|invisible|noaccess,
 * subset=pid), from /proc/self/mountinfo; null when every process is visible.
 */
export function procHidingOption(mountinfo: string): string | null {
  for (const line of mountinfo.split('\n')) {
    const [mountPart, superPart] = line.split(' - ');
    if (!mountPart || !superPart || mountPart.split(' ')[4] !== '/proc') continue;
    const [fsType, , superOptions = ''] = superPart.split(' ');
    if (fsType !== 'proc') continue;
    const hiding = superOptions.split(',').find((o) => /^hidepid=(1|2|invisible|noaccess)$/.test(o) || o === 'subset=pid');
    if (hiding) return hiding;
  }
  return null;
}

// ---- small synchronous /proc readers ----------------------------------------------------

const buffer = Buffer.allocUnsafe(64 * 1024);

/**
 * Reads a /proc file with one reusable buffer: open, read, close. stat and cmdline hand over
 * everything in one read when it fits, so a short read is the end (this saves the EOF read);
 * maps and larger files are read until EOF.
 */
function readProc(path: string, untilEof = false): string {
  const fd = openSync(path, 'r');
  try {
    const first = readSync(fd, buffer, 0, buffer.length, null);
    if (!untilEof && first < buffer.length) return buffer.toString('utf8', 0, first);
    const chunks: Buffer[] = [Buffer.from(buffer.subarray(0, first))];
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) break;
      chunks.push(Buffer.from(buffer.subarray(0, n)));
    }
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

let mapsBuffer = Buffer.allocUnsafe(256 * 1024);

/**
 * The whole of /proc/PID/maps as bytes in a reusable buffer (grown as needed), so a scan can
 * look for the roots' bytes before paying for a string of every process's maps.
 */
function readMaps(path: string): Buffer {
  const fd = openSync(path, 'r');
  try {
    let used = 0;
    for (;;) {
      if (mapsBuffer.length - used < 64 * 1024) {
        const bigger = Buffer.allocUnsafe(mapsBuffer.length * 2);
        mapsBuffer.copy(bigger, 0, 0, used);
        mapsBuffer = bigger;
      }
      const n = readSync(fd, mapsBuffer, used, mapsBuffer.length - used, null);
      if (n === 0) return mapsBuffer.subarray(0, used);
      used += n;
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Replaces `obj[key]` by an enumerable getter that computes the value once, on first read; copies
 * made with the property descriptors (scope.ts) share it.
 */
function lazy<T extends object, K extends keyof T>(obj: T, key: K, compute: () => T[K]): void {
  let value: T[K] | undefined;
  let known = false;
  Object.defineProperty(obj, key, {
    enumerable: true,
    configurable: true,
    get() {
      if (!known) {
        value = compute();
        known = true;
      }
      return value;
    },
    set(v: T[K]) {
      value = v;
      known = true;
    },
  });
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code;
}

const isDenied = (e: unknown) => errno(e) === 'EACCES' || errno(e) === 'EPERM';

function statOf(pid: number): StatFields | null {
  try {
    return parseStat(readProc(`/proc/${pid}/stat`));
  } catch {
    return null;
  }
}

const isGone = (state: string) => state === 'Z' || state === 'X';

/**
 * A live thread of a process whose main thread has exited (the leader shows Z while workers
 * run on, holding its memory and files): its tid and state, or null when every thread is gone.
 */
function liveTaskOf(pid: number): { tid: number; state: string } | null {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  for (const t of tids) {
    const tid = Number(t);
    if (tid === pid) continue;
    const s = statOf(tid);
    if (s && !isGone(s.state)) return { tid, state: s.state };
  }
  return null;
}

/** The state of the process as a whole: the leader's, or a live thread's when the leader is a zombie. */
function processState(s: StatFields): string {
  if (!isGone(s.state)) return s.state;
  return liveTaskOf(s.pid)?.state ?? s.state;
}

/** Identity of a live process (start ticks), null when gone or a zombie; alive while any thread is. */
function liveIdentity(pid: number): string | null {
  const s = statOf(pid);
  return s && !isGone(processState(s)) ? s.startTicks : null;
}

function clockTicksPerSecond(): number {
  // AT_CLKTCK (17) from our own auxiliary vector: no need to spawn `getconf CLK_TCK`.
  try {
    const auxv = readFileSync('/proc/self/auxv');
    const word = process.arch === 'ia32' || process.arch === 'arm' ? 4 : 8;
    for (let i = 0; i + 2 * word <= auxv.length; i += 2 * word) {
      const type = word === 8 ? Number(auxv.readBigUInt64LE(i)) : auxv.readUInt32LE(i);
      const value = word === 8 ? Number(auxv.readBigUInt64LE(i + word)) : auxv.readUInt32LE(i + word);
      if (type === 17 && value > 0) return value;
      if (type === 0) break;
    }
  } catch {
    // fall through to the value every mainstream Linux uses
  }
  return 100;
}

function bootTimeMs(): number {
  const m = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
  return m ? Number(m[1]) * 1000 : 0;
}

function readUsers(): Map<number, string> {
  const users = new Map<number, string>();
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , uid] = line.split(':');
      if (name && uid && !users.has(Number(uid))) users.set(Number(uid), name);
    }
  } catch {
    // no passwd: users are shown by uid
  }
  return users;
}

function sendByPid(pid: number, signal: NodeJS.Signals): SignalOutcome {
  try {
    process.kill(pid, signal);
    return { pid, result: 'sent' };
  } catch (e) {
    if (errno(e) === 'ESRCH') return { pid, result: 'gone' };
    if (errno(e) === 'EPERM') return { pid, result: 'denied', detail: `EPERM: not allowed to send ${signal} to pid ${pid}` };
    return { pid, result: 'failed', detail: `${signal} to pid ${pid}: ${(e as Error).message}` };
  }
}

/**
 * Sends signal to pid, with startKey only while pid is still that process: through a pidfd
 * opened before the identity check where the kernel has them, else check-then-kill.
 */
function send(pid: number, signal: NodeJS.Signals, startKey?: string): SignalOutcome {
  if (startKey === undefined) return sendByPid(pid, signal);
  const api = pidfdApi();
  const fd = api?.open(pid) ?? null;
  if (api === null || fd === null) {
    if (liveIdentity(pid) !== startKey) return { pid, result: 'gone' };
    return sendByPid(pid, signal);
  }
  try {
    if (liveIdentity(pid) !== startKey) return { pid, result: 'gone' };
    const err = api.signal(fd, signal);
    if (err === 0) return { pid, result: 'sent' };
    if (err === ERRNO.ESRCH) return { pid, result: 'gone' };
    if (err === ERRNO.EPERM) return { pid, result: 'denied', detail: `EPERM: not allowed to send ${signal} to pid ${pid}` };
    return { pid, result: 'failed', detail: `${signal} to pid ${pid}: errno ${err}` };
  } finally {
    api.close(fd);
  }
}

async function runSystemctl(args: string[], timeoutMs: number): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await execFileText('systemctl', args, { timeoutMs });
  return { code: r.code ?? -1, stdout: r.stdout, stderr: r.stderr || (r.error ?? '') };
}

function systemctlScope(s: Pick<ServiceRef, 'scope' | 'user'>): string[] {
  return s.scope === 'user' ? ['--user', `--machine=${s.user ?? ''}@`] : [];
}

const unitName = (name: string) => (name.endsWith('.service') ? name : `${name}.service`);

/** `ExecStart={ path=/usr/local/bin/ollama ; argv[]=… }` → the binaries a unit runs. */
export function execStartPaths(show: string): string[] {
  return [...show.matchAll(/path=([^ ;]+)/g)].map((m) => m[1]!);
}

/**
 * Profile-named system units that are up (or between two starts: `activating`/auto-restart)
 * and run a binary under a root, whether or not a process of theirs exists at this instant:
 * with Restart=always one may appear at any moment, so the unit is stopped all the same.
 */
async function namedUnitsRunningFrom(names: string[], roots: string[]): Promise<ServiceRef[]> {
  const out: ServiceRef[] = [];
  for (const n of names) {
    const name = unitName(n);
    const r = await runSystemctl(['show', '-p', 'ActiveState', '-p', 'ExecStart', name], 5000);
    if (r.code !== 0) continue; // no systemd here, or no such unit
    const active = /^ActiveState=(.*)$/m.exec(r.stdout)?.[1]?.trim() ?? '';
    if (!['active', 'activating', 'reloading'].includes(active)) continue;
    if (execStartPaths(r.stdout).some((p) => isUnderAnyRoot(p, roots))) out.push({ manager: 'systemd', name, scope: 'system', pids: [] });
  }
  return out;
}

export class LinuxBackend implements PlatformBackend {
  readonly os = 'linux' as const;
  private readonly ticksPerSecond = clockTicksPerSecond();
  private readonly bootMs = bootTimeMs();
  private users: Map<number, string> | undefined;
  /** Root sees through hidepid; anyone else is told the view is incomplete. */
  private readonly hidden = process.geteuid?.() === 0 ? null : hidingOfProc();

  pathKey(path: string): string {
    return path;
  }

  async snapshot(): Promise<Snapshot> {
    const takenAt = Date.now();
    const processes: ProcessInfo[] = [];
    const unreadable: ProcessInfo[] = [];
    for (const entry of readdirSync('/proc')) {
      const c = entry.charCodeAt(0);
      if (c < 48 || c > 57) continue;
      const pid = Number(entry);
      const stat = statOf(pid);
      if (!stat) continue; // exited since readdir
      const info: ProcessInfo = {
        pid,
        ppid: stat.ppid,
        name: stat.comm,
        exe: null,
        cmdline: [],
        startTime: Math.round(this.bootMs + (Number(stat.startTicks) * 1000) / this.ticksPerSecond),
        startKey: stat.startTicks,
        user: null,
        state: stat.state,
      };
      // Scope needs exe, ppid and start time of every process; the owner and the command line are
      // read on first use (roles, reports), which is for the few processes in scope.
      lazy(info, 'user', () => {
        const uid = statSync(`/proc/${pid}`, { throwIfNoEntry: false })?.uid;
        return uid === undefined ? null : ((this.users ??= readUsers()).get(uid) ?? String(uid));
      });
      processes.push(info);
      if ((stat.flags & PF_KTHREAD) !== 0) continue;
      if (stat.numThreads > 1) info.threads = stat.numThreads;
      let dir = `/proc/${pid}`;
      if (isGone(stat.state)) {
        // The main thread exited; the process lives while any thread does (pthread_exit in main).
        const task = liveTaskOf(pid);
        if (!task) continue;
        info.state = task.state;
        info.liveTask = task.tid;
        dir = `/proc/${pid}/task/${task.tid}`;
      }
      try {
        const exe = stripDeleted(readlinkSync(`${dir}/exe`));
        info.exe = exe.path;
        if (exe.deleted) info.exeDeleted = true;
        info.name = exe.path.slice(exe.path.lastIndexOf('/') + 1);
      } catch (e) {
        if (isDenied(e)) unreadable.push(info);
      }
      const cmdlinePath = `${dir}/cmdline`;
      lazy(info, 'cmdline', () => {
        try {
          const raw = readProc(cmdlinePath);
          return raw === '' ? [] : raw.replace(/\0$/, '').split('\0');
        } catch {
          return []; // gone or hidden
        }
      });
    }
    return { processes, unreadable, takenAt, ...(this.hidden ? { hidden: `/proc is mounted with ${this.hidden}: other users' processes are invisible` } : {}) };
  }

  async identityOf(pid: number): Promise<string | null> {
    return liveIdentity(pid);
  }

  async findServices(processes: ScopedProcess[], serviceNames: string[], roots?: string[]): Promise<ServiceRef[]> {
    const units = new Map<string, ServiceRef>();
    const users = (this.users ??= readUsers());
    for (const p of processes) {
      let found: ReturnType<typeof parseCgroupUnit>;
      try {
        found = parseCgroupUnit(readProc(`/proc/${p.pid}/cgroup`));
      } catch {
        continue;
      }
      if (!found) continue;
      const key = `${found.scope}:${found.uid ?? ''}:${found.unit}`;
      const ref = units.get(key) ?? {
        manager: 'systemd' as const,
        name: found.unit,
        scope: found.scope,
        ...(found.uid !== undefined ? { user: users.get(found.uid) ?? String(found.uid) } : {}),
        pids: [],
      };
      ref.pids.push(p.pid);
      units.set(key, ref);
    }
    const inScope = new Set(processes.map((p) => p.pid));
    const out: ServiceRef[] = [];
    for (const ref of units.values()) {
      const bare = ref.name.replace(/\.service$/, '');
      if (serviceNames.includes(bare) || serviceNames.includes(ref.name)) {
        out.push(ref);
        continue;
      }
      // Another unit (a CI runner, a shell service) may merely contain our processes: stop it
      // only when its main process is itself in scope.
      const r = await runSystemctl([...systemctlScope(ref), 'show', '-p', 'MainPID', '--value', ref.name], 5000);
      const mainPid = Number(r.stdout.trim());
      if (r.code === 0 && mainPid > 0 && inScope.has(mainPid)) out.push(ref);
    }
    if (roots?.length) out.push(...(await namedUnitsRunningFrom(serviceNames.filter((n) => !out.some((o) => o.name === unitName(n))), roots)));
    return out;
  }

  async stopService(service: ServiceRef, timeoutMs: number): Promise<void> {
    const r = await runSystemctl([...systemctlScope(service), 'stop', service.name], Math.max(1000, timeoutMs));
    if (r.code !== 0) {
      throw new LlmUpgradeError({
        code: 'ERR_SURVIVORS',
        message: `systemctl stop ${service.name} failed (pids ${service.pids.join(', ')}): ${r.stderr.trim()}`,
        hint: `Stop the ${service.scope ?? 'system'} unit ${service.name} yourself (systemctl${service.scope === 'user' ? ' --user' : ''} stop ${service.name}), or run as root.`,
        phase: 'stop',
        changed: true,
      });
    }
  }

  async requestExit(targets: ScopedProcess[], protectedPids: ReadonlySet<number>): Promise<SignalOutcome[]> {
    return targets.map((t) => {
      if (protectedPids.has(t.pid)) return { pid: t.pid, result: 'failed', detail: `pid ${t.pid} is protected (our own process or an ancestor)` };
      return send(t.pid, 'SIGTERM', t.startKey);
    });
  }

  forceKill(targets: ScopedProcess[], ctx: ForceKillContext): Promise<SignalOutcome[]> {
    return freezeKill(targets, ctx, {
      identities: async (pids) => new Map(pids.map((pid) => [pid, liveIdentity(pid)])),
      send,
      waitStopped: waitUntilStopped,
    });
  }

  async scanHolders(roots: string[], snapshot: Snapshot): Promise<{ holders: Omit<Holder, 'inScope'>[]; unknown: ProcessInfo[] }> {
    const holders: Omit<Holder, 'inScope'>[] = [];
    const unknown: ProcessInfo[] = [];
    // Cheap prefix test first: most links point elsewhere, and the full check normalises paths.
    const prefixes = roots.map((r) => (r.length > 1 && r.endsWith('/') ? r.slice(0, -1) : r));
    const under = (p: string) => prefixes.some((r) => p.startsWith(r)) && isUnderAnyRoot(p, roots);
    const unreadable = new Set(snapshot.unreadable.map((p) => p.pid));
    const rootBytes = roots.map((r) => Buffer.from(r));
    for (const proc of snapshot.processes) {
      if (proc.state === 'Z' || proc.state === 'X' || isKernelThread(proc)) continue;
      const seen = new Set<string>();
      const found: Omit<Holder, 'inScope'>[] = [];
      let denied = false;
      let gone = false;
      const add = (kind: HolderKind, raw: string) => {
        const { path, deleted } = stripDeleted(raw);
        if (!under(path) || seen.has(`${kind}\0${path}`)) return;
        seen.add(`${kind}\0${path}`);
        found.push({ pid: proc.pid, name: proc.name, exe: proc.exe, path, kind, ...(deleted ? { deleted } : {}) });
      };
      const attempt = (f: () => void) => {
        try {
          f();
        } catch (e) {
          if (isDenied(e)) denied = true;
          else if (errno(e) === 'ENOENT' || errno(e) === 'ESRCH') gone = true;
        }
      };
      // The snapshot read exe a moment ago (a few ms): reuse it rather than read it again.
      const exePath = proc.exe ?? undefined;
      if (proc.exe !== null) add('exe', proc.exeDeleted ? `${proc.exe}${DELETED}` : proc.exe);
      else if (unreadable.has(proc.pid)) denied = true;
      const dir = proc.liveTask !== undefined ? `/proc/${proc.pid}/task/${proc.liveTask}` : `/proc/${proc.pid}`;
      attempt(() => add('cwd', readlinkSync(`${dir}/cwd`)));
      attempt(() => add('root', readlinkSync(`${dir}/root`)));
      const addFds = (fdDir: string, names: readonly string[]) => {
        for (const fd of names) {
          let target: string;
          try {
            target = readlinkSync(`${fdDir}/${fd}`);
          } catch (e) {
            if (isDenied(e)) throw e; // one denied fd means all are: stop here, the process is unknown
            continue; // closed meanwhile
          }
          if (target.charCodeAt(0) === 47) add('fd', target);
        }
      };
      let mainFds: string[] = [];
      attempt(() => {
        mainFds = readdirSync(`${dir}/fd`);
        addFds(`${dir}/fd`, mainFds);
      });
      if (proc.threads !== undefined || proc.liveTask !== undefined) {
        // A thread that called unshare(CLONE_FILES) has its own fd table: read the fds of every
        // task whose table differs from the main thread's. Linux ≥ 6.2 reports a table's fd count
        // as the size of its fd/ directory, so one stat per thread tells a shared table (same
        // count) from a different one; older kernels report 0, and the fd names are compared.
        attempt(() => {
          const countOf = (fdDir: string) => statSync(fdDir, { throwIfNoEntry: false })?.size ?? -1;
          const mainCount = countOf(`${dir}/fd`);
          const bySize = mainCount > 0 || mainFds.length === 0;
          const mainKey = bySize ? '' : mainFds.join(',');
          for (const t of readdirSync(`/proc/${proc.pid}/task`)) {
            if (Number(t) === proc.pid || Number(t) === proc.liveTask) continue;
            const fdDir = `/proc/${proc.pid}/task/${t}/fd`;
            if (bySize && countOf(fdDir) === mainCount) continue;
            let names: string[];
            try {
              names = readdirSync(fdDir);
            } catch (e) {
              if (isDenied(e)) throw e;
              continue; // thread exited
            }
            if (bySize || names.join(',') !== mainKey) addFds(fdDir, names);
          }
        });
      }
      attempt(() => {
        const maps = readMaps(`${dir}/maps`);
        if (!rootBytes.some((r) => maps.includes(r))) return;
        for (const raw of parseMapsPaths(maps.toString('utf8'))) if (stripDeleted(raw).path !== exePath) add('map', raw);
      });
      if (gone) continue; // exited since the snapshot: what it held is free now
      holders.push(...found);
      if (denied) unknown.push(proc);
    }
    return { holders, unknown };
  }

  async signalIfSame(pid: number, startKey: string, signal: NodeJS.Signals): Promise<SignalOutcome> {
    return send(pid, signal, startKey);
  }

  rootAliases(roots: readonly string[]): string[] {
    try {
      return rootAliases(roots, parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8')));
    } catch {
      return [];
    }
  }

  async gpuUsage(): Promise<GpuUsage[]> {
    return queryNvidiaSmi();
  }
}

function hidingOfProc(): string | null {
  try {
    return procHidingOption(readFileSync('/proc/self/mountinfo', 'utf8'));
  } catch {
    return null;
  }
}

function isKernelThread(p: ProcessInfo): boolean {
  return p.exe === null && p.cmdline.length === 0 && (p.ppid === 2 || p.pid === 2);
}

async function waitUntilStopped(pids: number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let pending = pids;
  while (pending.length > 0 && Date.now() < deadline) {
    pending = pending.filter((pid) => {
      const s = statOf(pid);
      if (s === null) return false;
      const state = processState(s);
      return state !== 'T' && state !== 't' && !isGone(state);
    });
    if (pending.length > 0) await new Promise((r) => setTimeout(r, 2));
  }
}
