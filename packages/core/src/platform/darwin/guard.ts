// macOS part of `run` (code path only: never run on a Mac). CMD leads its own process group, so
// what it starts without setsid can be signalled as a group; descendants are tracked by identity
// from `ps` (orphans go to launchd, and the lineage keeps them); the watchdog covers a SIGKILL
// of the wrapper. There is no subreaper and no pdeathsig on macOS; CMD's exit is seen through
// Node's own child handling, and `watch` waits on a kqueue (EVFILT_PROC/NOTE_EXIT, kqueue.ts).
import type { PlatformBackend } from '../backend.js';
import { KqueueWaiter } from './kqueue.js';

import type { Containment, ExitWaiter, GuardBackend, LineageEntry, WatchSnapshot } from '../../guard/types.js';

export class DarwinGuard implements GuardBackend {
  readonly os = 'darwin' as const;
  readonly needsWatchdog = true;

  constructor(private readonly backend: PlatformBackend) {}

  contain(): Containment {
    return {
      mechanisms: ['process-group'],
      warnings: ['macOS has no subreaper: descendants are tracked by identity while the wrapper runs'],
    };
  }

  command(file: string, args: readonly string[]): { file: string; args: string[]; detached: boolean; mechanisms: string[] } {
    return { file, args: [...args], detached: true, mechanisms: [] };
  }

  async scan(): Promise<LineageEntry[]> {
    const snap = await this.backend.snapshot();
    return snap.processes.map((p) => ({
      pid: p.pid,
      ppid: p.ppid,
      startKey: p.startKey,
      startTime: p.startTime,
      name: p.name,
      live: p.state !== 'Z',
    }));
  }

  watchSnapshot(): (full: boolean) => Promise<WatchSnapshot> {
    return async () => ({ ...(await this.backend.snapshot()), changed: true });
  }

  exitWaiter(): ExitWaiter | null {
    return KqueueWaiter.create();
  }

  reap(): void {}

  release(): void {}
}
