// macOS exit notification for `watch`: one kqueue, an EVFILT_PROC/NOTE_EXIT filter per watched
// pid, kevent() blocking on a koffi worker thread. Code path only: never run on a Mac.
import { loadKoffi } from '../win32/koffi-loader.js';
import type { ExitWaiter } from '../../guard/types.js';
import type { ProcessInfo } from '../../types.js';

type Fn = ((...args: unknown[]) => unknown) & { async: (...args: unknown[]) => void };

const EVFILT_PROC = -5;
const EV_ADD = 0x1;
const EV_DELETE = 0x2;
const EV_ONESHOT = 0x10;
const NOTE_EXIT = 0x80000000;
/** 64-bit struct kevent: ident (8), filter (2), flags (2), fflags (4), data (8), udata (8). */
const KEVENT_BYTES = 32;
const MAX_EVENTS = 64;

function kevent(pid: number, flags: number): Buffer {
  const b = Buffer.alloc(KEVENT_BYTES);
  b.writeBigUInt64LE(BigInt(pid), 0);
  b.writeInt16LE(EVFILT_PROC, 8);
  b.writeUInt16LE(flags, 10);
  b.writeUInt32LE(NOTE_EXIT, 12);
  return b;
}

function timespec(ms: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeBigInt64LE(BigInt(Math.floor(ms / 1000)), 0);
  b.writeBigInt64LE(BigInt((ms % 1000) * 1_000_000), 8);
  return b;
}

export class KqueueWaiter implements ExitWaiter {
  readonly mode = 'kqueue' as const;
  private readonly pids = new Map<string, number>();

  private constructor(
    private readonly kq: number,
    private readonly kev: Fn,
    private readonly close_: Fn,
  ) {}

  static create(): KqueueWaiter | null {
    const koffi = loadKoffi();
    if (!koffi) return null;
    try {
      const lib = koffi.load('libSystem.B.dylib');
      const kqueue = lib.func('int kqueue()') as Fn;
      const kev = lib.func('int kevent(int kq, void *changelist, int nchanges, void *eventlist, int nevents, void *timeout)') as Fn;
      const close = lib.func('int close(int fd)') as Fn;
      const kq = kqueue() as number;
      return kq >= 0 ? new KqueueWaiter(kq, kev, close) : null;
    } catch {
      return null;
    }
  }

  watch(targets: readonly Pick<ProcessInfo, 'pid' | 'startKey'>[]): void {
    const want = new Map(targets.map((t) => [`${t.pid}:${t.startKey}`, t.pid]));
    for (const [key, pid] of this.pids) {
      if (want.has(key)) continue;
      this.kev(this.kq, kevent(pid, EV_DELETE), 1, null, 0, timespec(0));
      this.pids.delete(key);
    }
    for (const [key, pid] of want) {
      if (this.pids.has(key)) continue;
      // Fails with ESRCH for a process that is already gone: the next rescan sees that.
      if ((this.kev(this.kq, kevent(pid, EV_ADD | EV_ONESHOT), 1, null, 0, timespec(0)) as number) === 0) this.pids.set(key, pid);
    }
  }

  get size(): number {
    return this.pids.size;
  }

  wait(timeoutMs: number, signal?: AbortSignal): Promise<number[]> {
    const events = Buffer.alloc(KEVENT_BYTES * MAX_EVENTS);
    return new Promise((resolve) => {
      // No wake-up event: an abort resolves at once and the call returns by itself at its timeout.
      const onAbort = () => resolve([]);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.kev.async(this.kq, null, 0, events, MAX_EVENTS, timespec(Math.max(0, Math.round(timeoutMs))), (err: unknown, n: number) => {
        signal?.removeEventListener('abort', onAbort);
        if (err || n <= 0) return resolve([]);
        const exited: number[] = [];
        for (let i = 0; i < n; i++) exited.push(Number(events.readBigUInt64LE(i * KEVENT_BYTES)));
        for (const [key, pid] of this.pids) if (exited.includes(pid)) this.pids.delete(key);
        resolve(exited);
      });
    });
  }

  close(): void {
    this.close_(this.kq);
    this.pids.clear();
  }
}
