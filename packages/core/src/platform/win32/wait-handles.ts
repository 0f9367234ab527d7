// Windows exit notification for `watch`: a SYNCHRONIZE handle per watched process (creation time
// checked against the identity right after opening) and WaitForMultipleObjects on a koffi worker
// thread, with one manual-reset event to wake it early. At most 63 processes per wait
// (MAXIMUM_WAIT_OBJECTS minus the event); the rest are left to the rescan.
import type { ExitWaiter } from '../../guard/types.js';
import type { ProcessInfo } from '../../types.js';
import { loadKoffi } from './koffi-loader.js';

type Fn = ((...args: unknown[]) => unknown) & { async: (...args: unknown[]) => void };
type Handle = number | bigint;

const SYNCHRONIZE = 0x0010_0000;
const PROCESS_QUERY_LIMITED_INFORMATION = 0x1000;
const MAX_HANDLES = 63;
const WAIT_OBJECT_0 = 0;
const WAIT_TIMEOUT = 0x102;

interface Kernel32 {
  OpenProcess: Fn;
  GetProcessTimes: Fn;
  CloseHandle: Fn;
  CreateEventW: Fn;
  SetEvent: Fn;
  ResetEvent: Fn;
  WaitForMultipleObjects: Fn;
}

const isNull = (h: Handle) => h === 0 || h === 0n;

export class HandleWaiter implements ExitWaiter {
  readonly mode = 'handles' as const;
  private readonly handles = new Map<string, { pid: number; handle: Handle }>();

  private constructor(
    private readonly k: Kernel32,
    private readonly wake: Handle,
  ) {}

  static create(): HandleWaiter | null {
    const koffi = loadKoffi();
    if (!koffi) return null;
    try {
      const lib = koffi.load('kernel32.dll');
      const k: Kernel32 = {
        OpenProcess: lib.func('uintptr_t OpenProcess(uint32_t dwDesiredAccess, int bInheritHandle, uint32_t dwProcessId)') as Fn,
        GetProcessTimes: lib.func(
          'int GetProcessTimes(uintptr_t hProcess, void *lpCreationTime, void *lpExitTime, void *lpKernelTime, void *lpUserTime)',
        ) as Fn,
        CloseHandle: lib.func('int CloseHandle(uintptr_t hObject)') as Fn,
        CreateEventW: lib.func('uintptr_t CreateEventW(void *lpEventAttributes, int bManualReset, int bInitialState, void *lpName)') as Fn,
        SetEvent: lib.func('int SetEvent(uintptr_t hEvent)') as Fn,
        ResetEvent: lib.func('int ResetEvent(uintptr_t hEvent)') as Fn,
        WaitForMultipleObjects: lib.func(
          'uint32_t WaitForMultipleObjects(uint32_t nCount, void *lpHandles, int bWaitAll, uint32_t dwMilliseconds)',
        ) as Fn,
      };
      const wake = k.CreateEventW(null, 1, 0, null) as Handle;
      return isNull(wake) ? null : new HandleWaiter(k, wake);
    } catch {
      return null;
    }
  }

  private creationTime(h: Handle): string | null {
    const times = Buffer.alloc(32);
    return this.k.GetProcessTimes(h, times, times.subarray(8), times.subarray(16), times.subarray(24))
      ? times.readBigUInt64LE(0).toString()
      : null;
  }

  watch(targets: readonly Pick<ProcessInfo, 'pid' | 'startKey'>[]): void {
    const want = new Map(targets.slice(0, MAX_HANDLES).map((t) => [`${t.pid}:${t.startKey}`, t]));
    for (const [key, { handle }] of this.handles) {
      if (want.has(key)) continue;
      this.k.CloseHandle(handle);
      this.handles.delete(key);
    }
    for (const [key, t] of want) {
      if (this.handles.has(key)) continue;
      const h = this.k.OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, 0, t.pid) as Handle;
      if (isNull(h)) continue;
      if (this.creationTime(h) !== t.startKey) {
        this.k.CloseHandle(h); // the pid now names another process
        continue;
      }
      this.handles.set(key, { pid: t.pid, handle: h });
    }
  }

  get size(): number {
    return this.handles.size;
  }

  wait(timeoutMs: number, signal?: AbortSignal): Promise<number[]> {
    const entries = [...this.handles.values()];
    const list = Buffer.alloc(8 * (entries.length + 1));
    list.writeBigUInt64LE(BigInt(this.wake), 0);
    for (const [i, e] of entries.entries()) list.writeBigUInt64LE(BigInt(e.handle), 8 * (i + 1));
    this.k.ResetEvent(this.wake);
    const onAbort = () => this.k.SetEvent(this.wake);
    signal?.addEventListener('abort', onAbort, { once: true });
    return new Promise((resolve) => {
      this.k.WaitForMultipleObjects.async(entries.length + 1, list, 0, Math.max(0, Math.round(timeoutMs)), (err: unknown, r: number) => {
        signal?.removeEventListener('abort', onAbort);
        const i = r - WAIT_OBJECT_0 - 1;
        if (err || r === WAIT_TIMEOUT || i < 0 || i >= entries.length) return resolve([]);
        resolve([(entries[i] as { pid: number }).pid]);
      });
    });
  }

  close(): void {
    for (const { handle } of this.handles.values()) this.k.CloseHandle(handle);
    this.handles.clear();
    this.k.CloseHandle(this.wake);
  }
}
