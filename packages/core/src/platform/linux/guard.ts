// Linux part of `run`: the wrapper becomes a child subreaper (orphans of anything CMD starts are
// reparented to it, double-forked setsid'd daemons included) and CMD is spawned through
// `setpriv --pdeathsig KILL`, so CMD dies with the wrapper's main thread (PR_SET_PDEATHSIG
// fires when the forking *thread* exits, golang/go#27505: Node forks from its main thread,
// which lives as long as the process). What CMD's descendants do after a SIGKILL of the wrapper
// is the watchdog's job (guard/watchdog.ts).
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readlinkSync, readSync } from 'node:fs';
import { libcApi } from './libc.js';
import { parseStat } from './index.js';
import type { Containment, ExitWaiter, GuardBackend, LineageEntry, WatchSnapshot } from '../../guard/types.js';
import type { ProcessInfo } from '../../types.js';

const PR_SET_CHILD_SUBREAPER = 36;
const WNOHANG = 1;
const SETPRIV_CANDIDATES = ['/usr/bin/setpriv', '/bin/setpriv', '/usr/sbin/setpriv', '/sbin/setpriv'];

type Fn = (...args: unknown[]) => unknown;

interface Libc {
  prctl: Fn;
  waitpid: Fn;
  syscall: Fn & { async?: unknown };
  poll: Fn & { async: (...args: unknown[]) => void };
  eventfd: Fn;
  read: Fn;
  write: Fn;
  close: Fn;
}

/** libc through koffi, or null (never throws). */
export const linuxLibc = libcApi<Libc>((lib) => ({
  prctl: lib.func('int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)') as Fn,
  waitpid: lib.func('int waitpid(int pid, void *status, int options)') as Fn,
  syscall: lib.func('long syscall(long number, long a, long b)') as Fn,
  poll: lib.func('int poll(void *fds, unsigned long nfds, int timeout)') as Libc['poll'],
  eventfd: lib.func('int eventfd(unsigned int initval, int flags)') as Fn,
  read: lib.func('long read(int fd, void *buf, unsigned long count)') as Fn,
  write: lib.func('long write(int fd, void *buf, unsigned long count)') as Fn,
  close: lib.func('int close(int fd)') as Fn,
}));

/** /proc/PID/stat of every process: pid, ppid, state, start ticks (no exe, cmdline or user). */
export function scanProcStat(): LineageEntry[] {
  const out: LineageEntry[] = [];
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const name of names) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    let text: string;
    try {
      text = readFileSync(`/proc/${name}/stat`, 'latin1');
    } catch {
      continue; // exited meanwhile
    }
    const s = parseStat(text);
    if (!s) continue;
    out.push({
      pid: s.pid,
      ppid: s.ppid,
      startKey: s.startTicks,
      startTime: Number(s.startTicks),
      name: s.comm,
      live: s.state !== 'Z' && s.state !== 'X',
    });
  }
  return out;
}

const SYS_PIDFD_OPEN = 434;
const POLLIN = 1;
/** USER_HZ: fixed at 100 in the Linux user-space ABI on every mainstream architecture. */
const USER_HZ = 100;

function bootTimeMs(): number {
  try {
    const m = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
    return m ? Number(m[1]) * 1000 : 0;
  } catch {
    return 0;
  }
}

/**
 * A snapshot for a long-running watcher. A full pass reads /proc/PID/stat of every process; a
 * quick pass only lists /proc and reads the pids it has not seen (a known pid's parent changes
 * only when that parent exits, which the watcher learns from its pidfd and answers with a full
 * pass). The exe link and cmdline are read once per identity and name (an exec changes the name).
 */
export class IncrementalProcReader {
  private known = new Map<number, { info: ProcessInfo; comm: string }>();
  private readonly boot = bootTimeMs();
  private readonly buf = Buffer.alloc(4096);

  private readStat(pid: number): LineageEntry | null {
    let fd: number;
    try {
      fd = openSync(`/proc/${pid}/stat`, 'r');
    } catch {
      return null;
    }
    try {
      const n = readSync(fd, this.buf, 0, this.buf.length, 0);
      const st = parseStat(this.buf.toString('latin1', 0, n));
      return st
        ? {
            pid: st.pid,
            ppid: st.ppid,
            startKey: st.startTicks,
            startTime: Number(st.startTicks),
            name: st.comm,
            live: st.state !== 'Z' && st.state !== 'X',
          }
        : null;
    } catch {
      return null;
    } finally {
      closeSync(fd);
    }
  }

  /**
   * `changed`: some process appeared, went, or (full pass) changed parent, name or state;
   * `added`: processes read for the first time (new, or exec'd), `removed`: pids that went.
   */
  snapshot(full: boolean): WatchSnapshot {
    let names: string[];
    try {
      names = readdirSync('/proc');
    } catch {
      names = [];
    }
    const next = new Map<number, { info: ProcessInfo; comm: string }>();
    const added: ProcessInfo[] = [];
    let changed = false;
    for (const name of names) {
      const c = name.charCodeAt(0);
      if (c < 48 || c > 57) continue;
      const pid = Number(name);
      const old = this.known.get(pid);
      if (old && !full) {
        next.set(pid, old);
        continue;
      }
      const e = this.readStat(pid);
      if (!e) continue;
      const state = e.live ? 'S' : 'Z';
      if (old && old.info.startKey === e.startKey && old.comm === e.name) {
        if (old.info.ppid !== e.ppid || old.info.state !== state) {
          changed = true;
          next.set(pid, { info: { ...old.info, ppid: e.ppid, state }, comm: e.name });
        } else next.set(pid, old);
        continue;
      }
      changed = true;
      let exe: string | null = null;
      let exeDeleted = false;
      let cmdline: string[] = [];
      try {
        exe = readlinkSync(`/proc/${pid}/exe`);
        if (exe.endsWith(' (deleted)')) {
          exe = exe.slice(0, -' (deleted)'.length);
          exeDeleted = true;
        }
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
          .split('\0')
          .filter((a, i, all) => a !== '' || i < all.length - 1);
      } catch {
        // kernel thread, exited, or not ours to read: no exe, never in scope
      }
      const shown = exe ? exe.slice(exe.lastIndexOf('/') + 1) : e.name;
      const info: ProcessInfo = {
        pid,
        ppid: e.ppid,
        name: shown,
        exe,
        exeDeleted,
        cmdline,
        startTime: this.boot + (Number(e.startKey) * 1000) / USER_HZ,
        startKey: e.startKey,
        user: null,
        state,
      };
      next.set(pid, { info, comm: e.name });
      added.push(info);
    }
    const removed = [...this.known.keys()].filter((pid) => !next.has(pid));
    if (removed.length > 0) changed = true;
    this.known = next;
    return { processes: [...next.values()].map((k) => k.info), unreadable: [], takenAt: Date.now(), changed, added, removed };
  }
}

/** Waits for any of a set of processes to exit: a pidfd per process, poll() on a koffi worker thread. */
export class PidfdWaiter implements ExitWaiter {
  readonly mode = 'pidfd' as const;
  private readonly fds = new Map<string, { pid: number; fd: number }>();
  private readonly wake: number;

  private constructor(private readonly c: Libc) {
    this.wake = c.eventfd(0, 0) as number;
  }

  static create(): PidfdWaiter | null {
    const c = linuxLibc();
    if (!c) return null;
    try {
      const probe = Number(c.syscall(SYS_PIDFD_OPEN, process.pid, 0));
      if (probe < 0) return null; // kernel before 5.3, or seccomp
      c.close(probe);
      const w = new PidfdWaiter(c);
      return w.wake >= 0 ? w : null;
    } catch {
      return null;
    }
  }

  watch(targets: readonly Pick<ProcessInfo, 'pid' | 'startKey'>[]): void {
    const want = new Set(targets.map((t) => `${t.pid}:${t.startKey}`));
    for (const [key, { fd }] of this.fds) {
      if (!want.has(key)) {
        this.c.close(fd);
        this.fds.delete(key);
      }
    }
    for (const t of targets) {
      const key = `${t.pid}:${t.startKey}`;
      if (this.fds.has(key)) continue;
      const fd = Number(this.c.syscall(SYS_PIDFD_OPEN, t.pid, 0));
      if (fd < 0) continue;
      // The pid could have been reused between the scan and pidfd_open: check the identity now.
      const now = scanStatOf(t.pid);
      if (now?.startKey !== t.startKey || !now.live) {
        this.c.close(fd);
        continue;
      }
      this.fds.set(key, { pid: t.pid, fd });
    }
  }

  get size(): number {
    return this.fds.size;
  }

  wait(timeoutMs: number, signal?: AbortSignal): Promise<number[]> {
    const entries = [...this.fds.values()];
    const buf = Buffer.alloc(8 * (entries.length + 1));
    buf.writeInt32LE(this.wake, 0);
    buf.writeInt16LE(POLLIN, 4);
    entries.forEach((e, i) => {
      buf.writeInt32LE(e.fd, 8 * (i + 1));
      buf.writeInt16LE(POLLIN, 8 * (i + 1) + 4);
    });
    const onAbort = () => this.c.write(this.wake, Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]), 8);
    signal?.addEventListener('abort', onAbort, { once: true });
    return new Promise((resolve) => {
      this.c.poll.async(buf, entries.length + 1, Math.max(0, Math.round(timeoutMs)), (err: unknown) => {
        signal?.removeEventListener('abort', onAbort);
        if (buf.readInt16LE(6) !== 0) this.c.read(this.wake, Buffer.alloc(8), 8);
        if (err) return resolve([]);
        resolve(entries.filter((_, i) => buf.readInt16LE(8 * (i + 1) + 6) !== 0).map((e) => e.pid));
      });
    });
  }

  close(): void {
    for (const { fd } of this.fds.values()) this.c.close(fd);
    this.fds.clear();
    this.c.close(this.wake);
  }
}

function scanStatOf(pid: number): LineageEntry | null {
  try {
    const s = parseStat(readFileSync(`/proc/${pid}/stat`, 'latin1'));
    return s
      ? {
          pid: s.pid,
          ppid: s.ppid,
          startKey: s.startTicks,
          startTime: Number(s.startTicks),
          name: s.comm,
          live: s.state !== 'Z' && s.state !== 'X',
        }
      : null;
  } catch {
    return null;
  }
}

export class LinuxGuard implements GuardBackend {
  readonly os = 'linux' as const;
  readonly needsWatchdog = true;
  private readonly setpriv = SETPRIV_CANDIDATES.find((p) => existsSync(p)) ?? null;

  contain(): Containment {
    const mechanisms: string[] = [];
    const warnings: string[] = [];
    const c = linuxLibc();
    if (!c)
      warnings.push(
        'koffi cannot load libc.so.6: not a subreaper, so double-forked descendants escape to init (the watchdog still tracks them)',
      );
    else if ((c.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) as number) !== 0) warnings.push('prctl(PR_SET_CHILD_SUBREAPER) failed');
    else mechanisms.push('subreaper');
    if (!this.setpriv)
      warnings.push('util-linux setpriv not found: CMD does not get PR_SET_PDEATHSIG (the watchdog ends it when the wrapper is killed)');
    return { mechanisms, warnings };
  }

  command(file: string, args: readonly string[]): { file: string; args: string[]; detached: boolean; mechanisms: string[] } {
    if (!this.setpriv) return { file, args: [...args], detached: false, mechanisms: [] };
    return { file: this.setpriv, args: ['--pdeathsig', 'KILL', '--', file, ...args], detached: false, mechanisms: ['pdeathsig'] };
  }

  async scan(): Promise<LineageEntry[]> {
    return scanProcStat();
  }

  watchSnapshot(): (full: boolean) => Promise<WatchSnapshot> {
    const reader = new IncrementalProcReader();
    return async (full) => reader.snapshot(full);
  }

  exitWaiter(): ExitWaiter | null {
    return PidfdWaiter.create();
  }

  reap(pids: readonly number[]): void {
    const c = linuxLibc();
    if (!c) return;
    for (const pid of pids) c.waitpid(pid, null, WNOHANG);
  }

  release(): void {}
}
