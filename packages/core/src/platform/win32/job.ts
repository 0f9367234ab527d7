// Windows part of `run`: the wrapper puts itself in a new Job Object with
// JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE before spawning CMD. Children inherit the job (no
// BREAKAWAY_OK, so they cannot leave it) and the only handle is ours and never closed: when
// the wrapper exits for any reason, a crash or TerminateProcess included, the kernel closes
// it and ends every process still in the job. Nested jobs (a CI runner's, libuv's own per-child
// job) are fine on Windows 8 and later.
import type { PlatformBackend } from '../backend.js';

import type { Containment, ExitWaiter, GuardBackend, LineageEntry, WatchSnapshot } from '../../guard/types.js';
import { koffiLoadErrors, loadKoffi } from './koffi-loader.js';
import { HandleWaiter } from './wait-handles.js';

type Fn = (...args: unknown[]) => unknown;

const JOB_OBJECT_EXTENDED_LIMIT_INFORMATION_CLASS = 9;
const JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x2000;
/** x64 JOBOBJECT_EXTENDED_LIMIT_INFORMATION: BasicLimitInformation (64) + IO_COUNTERS (48) + 4 SIZE_T. */
export const EXTENDED_LIMIT_INFORMATION_BYTES = 144;
/** Offset of BasicLimitInformation.LimitFlags (after two LARGE_INTEGERs). */
const LIMIT_FLAGS_OFFSET = 16;

export function killOnCloseLimits(): Buffer {
  const info = Buffer.alloc(EXTENDED_LIMIT_INFORMATION_BYTES);
  info.writeUInt32LE(JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE, LIMIT_FLAGS_OFFSET);
  return info;
}

const isNull = (h: unknown) => h === null || h === undefined || h === 0n || h === 0;

export class Win32Guard implements GuardBackend {
  readonly os = 'win32' as const;
  readonly needsWatchdog = false;
  /** Held for the life of the process on purpose: closing it ends the job, this process included. */
  private job: unknown = null;

  constructor(private readonly backend: PlatformBackend) {}

  contain(): Containment {
    const koffi = loadKoffi();
    if (!koffi)
      return {
        mechanisms: [],
        warnings: [`koffi could not load (${koffiLoadErrors().join('; ')}): no Job Object, descendants are tracked by identity only`],
      };
    try {
      const k = koffi.load('kernel32.dll');
      const create = k.func('void *CreateJobObjectW(void *lpJobAttributes, void *lpName)') as Fn;
      const setInfo = k.func(
        'int SetInformationJobObject(void *hJob, int JobObjectInformationClass, void *lpJobObjectInformation, uint32_t cbJobObjectInformationLength)',
      ) as Fn;
      const assign = k.func('int AssignProcessToJobObject(void *hJob, void *hProcess)') as Fn;
      const current = k.func('void *GetCurrentProcess()') as Fn;
      const lastError = k.func('uint32_t GetLastError()') as Fn;
      const job = create(null, null);
      if (isNull(job)) return { mechanisms: [], warnings: [`CreateJobObjectW failed (error ${String(lastError())})`] };
      const limits = killOnCloseLimits();
      if (!setInfo(job, JOB_OBJECT_EXTENDED_LIMIT_INFORMATION_CLASS, limits, limits.length)) {
        return { mechanisms: [], warnings: [`SetInformationJobObject(KILL_ON_JOB_CLOSE) failed (error ${String(lastError())})`] };
      }
      if (!assign(job, current())) {
        return {
          mechanisms: [],
          warnings: [`AssignProcessToJobObject failed (error ${String(lastError())}; Windows before 8 cannot nest jobs)`],
        };
      }
      this.job = job;
      return { mechanisms: ['job-object'], warnings: [] };
    } catch (e) {
      return { mechanisms: [], warnings: [`Job Object: ${(e as Error).message}`] };
    }
  }

  command(file: string, args: readonly string[]): { file: string; args: string[]; detached: boolean; mechanisms: string[] } {
    return { file, args: [...args], detached: false, mechanisms: [] };
  }

  async scan(): Promise<LineageEntry[]> {
    const snap = await this.backend.snapshot();
    return snap.processes.map((p) => ({
      pid: p.pid,
      ppid: p.ppid,
      startKey: p.startKey,
      startTime: p.startTime,
      name: p.name,
      live: true,
    }));
  }

  watchSnapshot(): (full: boolean) => Promise<WatchSnapshot> {
    return async () => ({ ...(await this.backend.snapshot()), changed: true });
  }

  exitWaiter(): ExitWaiter | null {
    return HandleWaiter.create();
  }

  reap(): void {}

  release(): void {
    // The job handle stays open until the process exits (see above).
    void this.job;
  }
}
