import type { ProcessInfo, Snapshot } from '../types.js';

export interface WatchSnapshot extends Snapshot {
  /** Anything appeared, went, or changed parent, name or state. */
  changed: boolean;
  /** Processes read for the first time this pass (absent: unknown, treat everything as new). */
  added?: ProcessInfo[];
  /** pids that went since the last pass. */
  removed?: number[];
}

/** Wakes a watcher when any watched process exits. */
export interface ExitWaiter {
  readonly mode: 'pidfd' | 'kqueue' | 'handles';
  /** Replaces the watched set (identity-checked when the handle is opened). */
  watch(targets: readonly Pick<ProcessInfo, 'pid' | 'startKey'>[]): void;
  readonly size: number;
  /** Resolves with the pids that exited, or [] after timeoutMs or when `signal` aborts. */
  wait(timeoutMs: number, signal?: AbortSignal): Promise<number[]>;
  close(): void;
}

/** One process as the guard sees it: enough for lineage and identity, cheap to read. */
export interface LineageEntry {
  pid: number;
  ppid: number;
  /** Same token as ProcessInfo.startKey (Linux: clock ticks since boot; Windows: FILETIME). */
  startKey: string;
  /** Milliseconds since the epoch; a parent cannot have started after its child. */
  startTime: number;
  name: string;
  /** false for zombies: gone, but their pid is still taken. */
  live: boolean;
}

/** What a guard backend did to make everything CMD starts stay ours. */
export interface Containment {
  /** e.g. `subreaper`, `pdeathsig`, `job-object`, `process-group`, `kqueue`, `watchdog`. */
  mechanisms: string[];
  warnings: string[];
}

/** The OS-specific part of `run` (platform/linux/guard.ts, win32/job.ts, darwin/guard.ts). */
export interface GuardBackend {
  readonly os: 'linux' | 'win32' | 'darwin';
  /** Called once before CMD is spawned. */
  contain(): Containment;
  /** What is actually spawned for CMD (Linux: through `setpriv --pdeathsig KILL`). */
  command(file: string, args: readonly string[]): { file: string; args: string[]; detached: boolean; mechanisms: string[] };
  /** Every process, cheaply (no exe, cmdline or user). */
  scan(): Promise<LineageEntry[]>;
  /**
   * A snapshot function for a long-running watcher. `full: false` may reuse what it knows of
   * processes it saw before (Linux: only new pids are read); `changed` says whether anything did.
   */
  watchSnapshot(): (full: boolean) => Promise<WatchSnapshot>;
  /** Event-driven exit notification (Linux: pidfds), or null: the watcher polls. */
  exitWaiter(): ExitWaiter | null;
  /** Reaps zombie children that were reparented to us and that nobody else waits for. */
  reap(pids: readonly number[]): void;
  /** Linux/macOS: a separate process must end the tree when we are SIGKILLed; Windows: the job does. */
  readonly needsWatchdog: boolean;
  /** Called once CMD and everything it started are gone. */
  release(): void;
}

export type GuardEvent =
  | { type: 'contain'; mechanisms: string[]; warnings: string[] }
  | { type: 'spawn'; pid: number; command: string[] }
  | { type: 'forward'; signal: NodeJS.Signals; pid: number }
  | { type: 'exit'; pid: number; code: number | null; signal: NodeJS.Signals | null }
  | { type: 'cleanup'; remaining: number }
  | { type: 'signal'; pid: number; name: string; signal: string }
  | { type: 'exited'; pid: number; name: string; how: 'exited' | 'terminated' | 'killed' }
  | { type: 'freeze'; pids: number[]; round: number }
  | { type: 'warning'; message: string };

/** argv of the watchdog process (it reads identities on stdin, see guard/watchdog.ts). */
export interface WatchdogCommand {
  file: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
}

export interface RunGuardedOptions {
  command: string;
  args?: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** CMD's stdio (default inherit). */
  stdio?: 'inherit' | 'ignore';
  /** After CMD exits (or after a forwarded signal): SIGTERM what remains, wait this long, then force. Default 2 s. */
  graceMs?: number;
  /** Deadline for the force and its verification after the grace period. Default 10 s. */
  timeoutMs?: number;
  /** How often descendants are re-read (identities for the watchdog, zombie reaping). Default 250 ms. */
  trackIntervalMs?: number;
  /** Install SIGINT/SIGTERM/SIGHUP handlers that forward each signal to CMD while it runs. */
  forwardSignals?: boolean;
  /** Aborting forwards `signal.reason` (a signal name, default SIGTERM) to CMD. */
  signal?: AbortSignal;
  /** false: no OS containment (no subreaper, Job Object or pdeathsig); descendants are still tracked and ended. Default true. */
  contain?: boolean;
  /** The process that ends the tree when this one is SIGKILLed; false: none. Default: node + core's watchdog-main.js. */
  watchdog?: WatchdogCommand | false;
  onEvent?: (event: GuardEvent) => void;
  /** Called once CMD runs. */
  onSpawn?: (pid: number) => void;
}

export interface GuardedProcess {
  pid: number;
  name: string;
  how: 'exited' | 'terminated' | 'killed';
}

export interface GuardResult {
  /** CMD's exit code, or 128 + N when a signal N ended it. */
  exitCode: number;
  pid: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  mechanisms: string[];
  warnings: string[];
  /** Descendants still running when CMD ended, and how each ended. */
  stopped: GuardedProcess[];
  /** Descendants that could not be ended (permission; they should not exist). */
  survivors: Pick<ProcessInfo, 'pid' | 'name'>[];
  durationMs: number;
}
