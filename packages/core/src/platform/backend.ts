import type { GpuUsage, Holder, ProcessInfo, ScopedProcess, ServiceRef, Snapshot } from '../types.js';

/** Outcome of asking the OS to end one process. */
export interface SignalOutcome {
  pid: number;
  /** 'sent': delivered; 'gone': already exited or identity changed (PID reused); 'denied': no permission. */
  result: 'sent' | 'gone' | 'denied' | 'failed';
  detail?: string;
  /** The process this outcome is about (forceKill includes processes that appeared during the freeze). */
  process?: ScopedProcess;
}

export interface ForceKillContext {
  /** Re-reads the processes that are in scope now (a fresh snapshot through the scope rules). */
  rescan: () => Promise<ScopedProcess[]>;
  /** pids that must never be signalled: our own process and its ancestors, plus caller's extras. */
  protectedPids: ReadonlySet<number>;
  onFreeze?: (pids: number[], round: number) => void;
  /** Throws (ERR_INTERRUPTED) when the command was interrupted; called between freeze rounds, after which everything frozen is thawed. */
  checkInterrupted?: () => void;
}

/**
 * One implementation per OS (platform/linux/, win32/, darwin/ — each an index.ts and its modules). Everything OS-specific
 * lives behind this; the algorithms in stop.ts / sweep.ts / holders.ts are shared.
 */
/** A service started by startService: its main process once the manager runs one (null where unknown). */
export interface ServiceStarted {
  mainPid: number | null;
}

export interface ServiceState {
  active: string;
  sub: string;
  mainPid: number;
}

export interface PlatformBackend {
  readonly os: 'linux' | 'win32' | 'darwin';
  /** All processes: pid, ppid, name, exe, cmdline, start time, user. */
  snapshot(): Promise<Snapshot>;
  /**
   * The current identity token (ProcessInfo.startKey) of pid, or null when it has exited or is a
   * zombie. Every signal re-checks identity through this first.
   */
  identityOf(pid: number): Promise<string | null>;
  /** Case/separator normalisation for scope comparisons (Windows and macOS compare case-insensitively). */
  pathKey(path: string): string;
  /**
   * Services (systemd unit, Windows service, launchd job) that own any of these processes; with
   * `roots`, also the named services that are up and run a binary under a root (Linux).
   */
  findServices(processes: ScopedProcess[], serviceNames: string[], roots?: string[]): Promise<ServiceRef[]>;
  /** Stop one service through its manager so it does not respawn what we kill. */
  stopService(service: ServiceRef, timeoutMs: number): Promise<void>;
  /**
   * Start a service stopped by stopService again, through the same manager (systemd: the same
   * `--user --machine=USER@`; launchd: bootstrap + kickstart; Windows: `sc start`).
   */
  startService(service: ServiceRef, timeoutMs: number): Promise<ServiceStarted>;
  /**
   * What the service runs now, as its manager sees it (systemd: ActiveState and MainPID); null
   * where the manager does not say (launchd, Windows services here).
   */
  serviceState(service: ServiceRef): Promise<ServiceState | null>;
  /** Polite request to exit (SIGTERM; Windows: taskkill /PID n without /F, per forest root). */
  requestExit(targets: ScopedProcess[], protectedPids: ReadonlySet<number>): Promise<SignalOutcome[]>;
  /**
   * Force every target (and anything new that appears in scope meanwhile) to end, race-free.
   * POSIX: SIGSTOP all, rescan until nothing new, re-check identity, SIGKILL all, SIGCONT.
   * Windows: taskkill /PID n /T /F per forest root, then per-pid for orphans, re-checking creation time.
   */
  forceKill(targets: ScopedProcess[], ctx: ForceKillContext): Promise<SignalOutcome[]>;
  /** Every process holding a file under a root (exe, fd, map, cwd, root), and processes it could not read. */
  scanHolders(roots: string[], snapshot: Snapshot): Promise<{ holders: Omit<Holder, 'inScope'>[]; unknown: ProcessInfo[] }>;
  /** Sends signal only while pid is still the process with startKey (Linux: through a pidfd, so a reused pid is never hit). */
  signalIfSame?(pid: number, startKey: string, signal: NodeJS.Signals): Promise<SignalOutcome>;
  /**
   * Continue a process we froze (SIGCONT), only while pid is still the process with startKey.
   * `recover` thaws what a dead upgrader left frozen through this. Windows never freezes.
   */
  resume(pid: number, startKey: string): Promise<SignalOutcome>;
  /** Other paths of the roots (bind mounts of them): scope and holders match these as well. */
  rootAliases?(roots: readonly string[]): string[];
  /** GPU memory per pid where a tool (nvidia-smi) exists; [] otherwise. */
  gpuUsage(): Promise<GpuUsage[]>;
}
