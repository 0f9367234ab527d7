// Linux backend: everything is read from /proc directly (no `ps`): one pass is a few syscalls per
// process, sees ` (deleted)` executables, full names beyond comm's 15 characters, and the
// systemd unit of each process. Reads are synchronous on purpose: /proc never touches a disk,
// and the thread-pool round trip of async fs costs more than the read itself.
import { closeSync, openSync, readFileSync, readSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { queryNvidiaSmi } from '../../gpu.js';
import { execFileText } from '../../exec.js';
import * as errors from '../../error-factories.js';
import { isUnderAnyRoot } from '../../scope.js';
import type { GpuUsage, Holder, HolderKind, ProcessInfo, ScopedProcess, ServiceRef, Snapshot } from '../../types.js';
import { freezeKill, sendSignal } from '../posix/index.js';
import { ERRNO, pidfdApi } from './pidfd.js';
import { type CompareFileTables, fileTableComparer } from './kcmp.js';
import { fdLinkReader, type ReadFdLinks } from './fd-links.js';
import { parseMountinfo, rootAliases } from './mounts.js';
import type { ForceKillContext, PlatformBackend, ServiceStarted, ServiceState, SignalOutcome } from '../backend.js';
import { DEFAULTS } from '../../defaults.js';

/** PF_KTHREAD in /proc/PID/stat flags: kernel threads have no exe, files or user space. */
const PF_KTHREAD = 0x00200000;
const DELETED = ' (deleted)';
/** Distinct fd tables of one process a thread's table is compared with (each costs one kcmp). */
const MAX_TABLES_COMPARED = 8;

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

/**
 * Parses /proc/PID/stat. comm may contain spaces and `) `, so the fields are read after the LAST `)`.
 * Only the fields used are cut out (a snapshot parses one per process; a split makes ~50 strings).
 */
export function parseStat(text: string): StatFields | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  if (!Number.isInteger(pid)) return null;
  // Fields after comm: 0 state, 1 ppid, 6 flags, 17 num_threads, 19 starttime.
  let state = '?';
  let ppid = 0;
  let flags = 0;
  let numThreads = 0;
  let pos = close + 2;
  for (let field = 0; field < 19; field++) {
    const end = text.indexOf(' ', pos);
    if (end < 0) return null;
    if (field === 0) state = text.slice(pos, end);
    else if (field === 1) ppid = Number(text.slice(pos, end));
    else if (field === 6) flags = Number(text.slice(pos, end));
    else if (field === 17) numThreads = Number(text.slice(pos, end));
    pos = end + 1;
  }
  const end = text.indexOf(' ', pos);
  const startTicks = text.slice(pos, end < 0 ? text.length : end);
  return { pid, comm: text.slice(open + 1, close), state, ppid, flags, startTicks, numThreads };
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

const NEWLINE = 10;
const SPACE = 32;

/**
 * Distinct paths of /proc/PID/maps (as bytes) that start with one of `needles` (the roots): a
 * path is the last column, so a needle right after a space is where its path starts, and the
 * path is the rest of that line. Only those paths become strings: a process that maps nothing
 * under a root costs one search per root and no allocation.
 */
export function mapsPathsContaining(maps: Buffer, needles: readonly Buffer[]): string[] {
  let out: Set<string> | undefined;
  for (const needle of needles) {
    let at = maps.indexOf(needle);
    while (at >= 0) {
      let end = maps.indexOf(NEWLINE, at);
      if (end < 0) end = maps.length;
      if (at > 0 && maps[at - 1] === SPACE) (out ??= new Set()).add(maps.toString('utf8', at, end));
      at = end < maps.length ? maps.indexOf(needle, end) : -1;
    }
  }
  return out ? [...out] : [];
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

function readCmdline(path: string): string[] {
  try {
    const raw = readProc(path);
    return raw === '' ? [] : raw.replace(/\0$/, '').split('\0');
  } catch {
    return []; // gone or hidden
  }
}

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

/**
 * Sends signal to pid, with startKey only while pid is still that process: through a pidfd
 * opened before the identity check where the kernel has them, else check-then-kill.
 */
function send(pid: number, signal: NodeJS.Signals, startKey?: string): SignalOutcome {
  if (startKey === undefined) return sendSignal(pid, signal);
  const api = pidfdApi();
  const fd = api?.open(pid) ?? null;
  if (api === null || fd === null) {
    if (liveIdentity(pid) !== startKey) return { pid, result: 'gone' };
    return sendSignal(pid, signal);
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

export interface LinuxBackendOptions {
  /** How fd tables of threads are compared (default: kcmp through koffi); null: never known, every table is read. */
  fileTableComparer?: () => CompareFileTables | null;
  /** How fd links are read (default: readlinkat on one directory fd through koffi, else readlinkSync per fd). */
  fdLinkReader?: () => ReadFdLinks;
}

export class LinuxBackend implements PlatformBackend {
  readonly os = 'linux' as const;
  private readonly fileTableComparer: () => CompareFileTables | null;
  private readonly fdLinkReader: () => ReadFdLinks;
  private readonly ticksPerSecond = clockTicksPerSecond();
  private readonly bootMs = bootTimeMs();
  private users: Map<number, string> | undefined;
  /** Root sees through hidepid; anyone else is told the view is incomplete. */
  private readonly hidden = process.geteuid?.() === 0 ? null : hidingOfProc();

  constructor(options: LinuxBackendOptions = {}) {
    this.fileTableComparer = options.fileTableComparer ?? fileTableComparer;
    this.fdLinkReader = options.fdLinkReader ?? fdLinkReader;
  }

  pathKey(path: string): string {
    return path;
  }

  async snapshot(): Promise<Snapshot> {
    const takenAt = Date.now();
    const processes: ProcessInfo[] = [];
    const unreadable: ProcessInfo[] = [];
    const userOf = (pid: number): string | null => {
      const uid = statSync(`/proc/${pid}`, { throwIfNoEntry: false })?.uid;
      return uid === undefined ? null : ((this.users ??= readUsers()).get(uid) ?? String(uid));
    };
    for (const entry of readdirSync('/proc')) {
      const c = entry.charCodeAt(0);
      if (c < 48 || c > 57) continue;
      const pid = Number(entry);
      const stat = statOf(pid);
      if (!stat) continue; // exited since readdir
      // Scope needs exe, ppid and start time of every process; the owner and the command line are
      // read on first use (roles, reports), which is for the few processes in scope. Accessors
      // in the literal rather than defineProperty afterwards: the objects keep one fast shape.
      let dir = `/proc/${pid}`;
      let cmdlineDir: string | null = null; // kernel threads and dead processes have none
      let cmdline: string[] | undefined;
      let user: string | null | undefined;
      const info: ProcessInfo = {
        pid,
        ppid: stat.ppid,
        name: stat.comm,
        exe: null,
        get cmdline() {
          return (cmdline ??= cmdlineDir === null ? [] : readCmdline(`${cmdlineDir}/cmdline`));
        },
        set cmdline(v: string[]) {
          cmdline = v;
        },
        startTime: Math.round(this.bootMs + (Number(stat.startTicks) * 1000) / this.ticksPerSecond),
        startKey: stat.startTicks,
        get user() {
          return user === undefined ? (user = userOf(pid)) : user;
        },
        set user(v: string | null) {
          user = v;
        },
        state: stat.state,
      };
      processes.push(info);
      if ((stat.flags & PF_KTHREAD) !== 0) continue;
      if (stat.numThreads > 1) info.threads = stat.numThreads;
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
      cmdlineDir = dir;
    }
    return {
      processes,
      unreadable,
      takenAt,
      ...(this.hidden ? { hidden: `/proc is mounted with ${this.hidden}: other users' processes are invisible` } : {}),
    };
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
      const r = await runSystemctl([...systemctlScope(ref), 'show', '-p', 'MainPID', '--value', ref.name], DEFAULTS.serviceQueryMs);
      const mainPid = Number(r.stdout.trim());
      if (r.code === 0 && mainPid > 0 && inScope.has(mainPid)) out.push(ref);
    }
    if (roots?.length)
      out.push(
        ...(await namedUnitsRunningFrom(
          serviceNames.filter((n) => !out.some((o) => o.name === unitName(n))),
          roots,
        )),
      );
    return out;
  }

  async stopService(service: ServiceRef, timeoutMs: number): Promise<void> {
    const r = await runSystemctl([...systemctlScope(service), 'stop', service.name], Math.max(DEFAULTS.minServiceCallMs, timeoutMs));
    if (r.code !== 0) {
      throw errors.survivorsError({
        message: `systemctl stop ${service.name} failed (pids ${service.pids.join(', ')}): ${r.stderr.trim()}`,
        hint: `Stop the ${service.scope ?? 'system'} unit ${service.name} yourself (systemctl${service.scope === 'user' ? ' --user' : ''} stop ${service.name}), or run as root.`,
        phase: 'stop',
        changed: true,
      });
    }
  }

  /** `systemctl start` through the manager it was stopped through (a user unit: `--user --machine=USER@`). */
  async startService(service: ServiceRef, timeoutMs: number): Promise<ServiceStarted> {
    const args = [...systemctlScope(service), 'start', service.name];
    const r = await runSystemctl(args, Math.max(DEFAULTS.minServiceCallMs, timeoutMs));
    if (r.code !== 0) {
      throw errors.healthError({
        message: `systemctl ${args.join(' ')} failed: ${r.stderr.trim()}`,
        hint: `Start the unit yourself (systemctl${service.scope === 'user' ? ' --user' : ''} start ${service.name}) and read its journal (journalctl -u ${service.name}).`,
        phase: 'restart',
        changed: true,
        details: { service: service.name },
      });
    }
    return { mainPid: await this.waitMainPid(service, timeoutMs) };
  }

  /** `systemctl show -p MainPID -p ActiveState -p SubState`: what the unit runs now. */
  async serviceState(service: ServiceRef): Promise<ServiceState | null> {
    const r = await runSystemctl(
      [...systemctlScope(service), 'show', '-p', 'MainPID', '-p', 'ActiveState', '-p', 'SubState', service.name],
      DEFAULTS.minServiceCallMs,
    );
    if (r.code !== 0) return null;
    const get = (k: string) => new RegExp(`^${k}=(.*)$`, 'm').exec(r.stdout)?.[1]?.trim() ?? '';
    return { mainPid: Number(get('MainPID')) || 0, active: get('ActiveState'), sub: get('SubState') };
  }

  /** Waits until the unit runs a main process (Type=simple: at once; forking/notify: once it is up). */
  private async waitMainPid(service: ServiceRef, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const now = await this.serviceState(service);
      if (now && now.mainPid > 0 && now.active === 'active') return now.mainPid;
      if (now?.active === 'failed' || Date.now() > deadline) {
        throw errors.healthError({
          message: `systemd unit ${service.name} runs no main process after the start (${now ? `${now.active}/${now.sub}` : 'state unknown'})`,
          hint: `Read its journal (journalctl -u ${service.name}).`,
          phase: 'restart',
          changed: true,
          details: { service: service.name },
        });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async requestExit(targets: ScopedProcess[], protectedPids: ReadonlySet<number>): Promise<SignalOutcome[]> {
    return targets.map((t) => {
      if (protectedPids.has(t.pid))
        return { pid: t.pid, result: 'failed', detail: `pid ${t.pid} is protected (our own process or an ancestor)` };
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
    const rootBytes = prefixes.map((r) => Buffer.from(r));
    const readFdLinks = this.fdLinkReader();
    let compareTables: CompareFileTables | null | undefined; // kcmp, loaded for the first multi-threaded process
    for (const proc of snapshot.processes) {
      if (proc.state === 'Z' || proc.state === 'X' || isKernelThread(proc)) continue;
      let seen: Set<string> | undefined; // most processes hold nothing: no set for them
      const found: Omit<Holder, 'inScope'>[] = [];
      let denied = false;
      let gone = false;
      const add = (kind: HolderKind, raw: string) => {
        const { path, deleted } = stripDeleted(raw);
        if (!under(path)) return;
        const key = `${kind}\0${path}`;
        if (seen?.has(key)) return;
        (seen ??= new Set()).add(key);
        found.push({ pid: proc.pid, name: proc.name, exe: proc.exe, path, kind, ...(deleted ? { deleted } : {}) });
      };
      const addFdTarget = (target: string) => {
        if (target.charCodeAt(0) === 47) add('fd', target);
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
      // One denied fd means all are: readFdLinks throws, and the process is unknown.
      const addFds = (fdDir: string, names: readonly string[]) => readFdLinks(fdDir, names, addFdTarget);
      attempt(() => addFds(`${dir}/fd`, readdirSync(`${dir}/fd`)));
      if (proc.threads !== undefined || proc.liveTask !== undefined) {
        // A thread that called unshare(CLONE_FILES) has its own fd table, which may even keep the
        // main thread's fd count and numbers. Every task's table is read unless kcmp proves it is
        // one already read (the main thread's first); without kcmp, every table is read.
        attempt(() => {
          const main = proc.liveTask ?? proc.pid;
          const tablesRead = [main];
          for (const t of readdirSync(`/proc/${proc.pid}/task`)) {
            const tid = Number(t);
            if (tid === proc.pid || tid === main) continue; // a zombie leader's table is gone
            const compare = (compareTables ??= this.fileTableComparer());
            if (compare !== null && tablesRead.some((read) => compare(read, tid) === 'same')) continue;
            const fdDir = `/proc/${proc.pid}/task/${t}/fd`;
            let names: string[];
            try {
              names = readdirSync(fdDir);
            } catch (e) {
              if (isDenied(e)) throw e;
              continue; // thread exited
            }
            addFds(fdDir, names);
            if (tablesRead.length < MAX_TABLES_COMPARED) tablesRead.push(tid);
          }
        });
      }
      attempt(() => {
        for (const raw of mapsPathsContaining(readMaps(`${dir}/maps`), rootBytes)) if (stripDeleted(raw).path !== exePath) add('map', raw);
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

  async resume(pid: number, startKey: string): Promise<SignalOutcome> {
    return send(pid, 'SIGCONT', startKey);
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
