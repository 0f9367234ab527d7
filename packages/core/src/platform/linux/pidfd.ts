// Signals through a pidfd (Linux ≥ 5.3): open the pidfd, THEN check the identity (start time):
// once the pidfd refers to the process we checked, a signal sent through it cannot reach
// another process that reused the pid. koffi is loaded on the first signal only, so commands
// that send none never pay for it; without koffi or the syscalls, callers fall back to
// check-then-kill on the pid.
import { libcApi } from './libc.js';

const NR = { x64: { pidfdOpen: 434, pidfdSendSignal: 424 }, arm64: { pidfdOpen: 434, pidfdSendSignal: 424 } } as const;
const SIGNALS: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15, SIGCONT: 18, SIGSTOP: 19 };

export interface Pidfd {
  /** A pidfd for pid, or null (ESRCH: gone; or the syscall failed). */
  open(pid: number): number | null;
  /** 0 on success, else the errno. */
  signal(pidfd: number, signal: NodeJS.Signals): number;
  close(pidfd: number): void;
}

/** The pidfd syscalls, or null when koffi, libc or the kernel lacks them (checked once, on our own pid). */
export const pidfdApi = libcApi<Pidfd>((libc, koffi) => {
  const nr = NR[process.arch as keyof typeof NR];
  if (!nr) return null;
  const syscall = libc.func('long syscall(long, long, long, long, long)') as (...args: number[]) => number;
  const close = libc.func('int close(int)') as (fd: number) => number;
  const api: Pidfd = {
    open: (pid) => {
      const fd = Number(syscall(nr.pidfdOpen, pid, 0, 0, 0));
      return fd >= 0 ? fd : null;
    },
    signal: (pidfd, signal) => {
      const n = SIGNALS[signal];
      if (n === undefined) return 22; // EINVAL
      return Number(syscall(nr.pidfdSendSignal, pidfd, n, 0, 0)) === 0 ? 0 : koffi.errno();
    },
    close: (fd) => {
      close(fd);
    },
  };
  const self = api.open(process.pid);
  if (self === null) return null; // kernel older than 5.3, or seccomp: fall back
  api.close(self);
  return api;
});

export const ERRNO = { EPERM: 1, ESRCH: 3 } as const;
