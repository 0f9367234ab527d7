// Linux part of `run`: the wrapper becomes a child subreaper (orphans of anything CMD starts are
// reparented to it, double-forked setsid'd daemons included) and CMD is spawned through
// `setpriv --pdeathsig KILL`, so CMD dies with the wrapper's main thread (PR_SET_PDEATHSIG
// fires when the forking *thread* exits, golang/go#27505: Node forks from its main thread,
// which lives as long as the process). What CMD's descendants do after a SIGKILL of the wrapper
// is the watchdog's job (guard/watchdog.ts).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { loadKoffi } from './win32/koffi-loader.js';
import { parseStat } from './linux.js';
import type { Containment, GuardBackend, LineageEntry } from '../guard/types.js';

const PR_SET_CHILD_SUBREAPER = 36;
const WNOHANG = 1;
const SETPRIV_CANDIDATES = ['/usr/bin/setpriv', '/bin/setpriv', '/usr/sbin/setpriv', '/sbin/setpriv'];

type Fn = (...args: unknown[]) => unknown;

interface Libc {
  prctl: Fn;
  waitpid: Fn;
}

let libc: Libc | null | undefined;

/** libc through koffi, or null (never throws). */
export function linuxLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  const koffi = loadKoffi();
  if (!koffi) return null;
  try {
    const lib = koffi.load('libc.so.6');
    libc = {
      prctl: lib.func('int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)') as Fn,
      waitpid: lib.func('int waitpid(int pid, void *status, int options)') as Fn,
    };
  } catch {
    libc = null;
  }
  return libc;
}

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
    out.push({ pid: s.pid, ppid: s.ppid, startKey: s.startTicks, startTime: Number(s.startTicks), name: s.comm, live: s.state !== 'Z' && s.state !== 'X' });
  }
  return out;
}

export class LinuxGuard implements GuardBackend {
  readonly os = 'linux' as const;
  readonly needsWatchdog = true;
  private readonly setpriv = SETPRIV_CANDIDATES.find((p) => existsSync(p)) ?? null;

  contain(): Containment {
    const mechanisms: string[] = [];
    const warnings: string[] = [];
    const c = linuxLibc();
    if (!c) warnings.push('koffi cannot load libc.so.6: not a subreaper, so double-forked descendants escape to init (the watchdog still tracks them)');
    else if ((c.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) as number) !== 0) warnings.push('prctl(PR_SET_CHILD_SUBREAPER) failed');
    else mechanisms.push('subreaper');
    if (!this.setpriv) warnings.push('util-linux setpriv not found: CMD does not get PR_SET_PDEATHSIG (the watchdog ends it when the wrapper is killed)');
    return { mechanisms, warnings };
  }

  command(file: string, args: readonly string[]): { file: string; args: string[]; detached: boolean; mechanisms: string[] } {
    if (!this.setpriv) return { file, args: [...args], detached: false, mechanisms: [] };
    return { file: this.setpriv, args: ['--pdeathsig', 'KILL', '--', file, ...args], detached: false, mechanisms: ['pdeathsig'] };
  }

  async scan(): Promise<LineageEntry[]> {
    return scanProcStat();
  }

  reap(pids: readonly number[]): void {
    const c = linuxLibc();
    if (!c) return;
    for (const pid of pids) c.waitpid(pid, null, WNOHANG);
  }

  release(): void {}
}
