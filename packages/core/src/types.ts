/** Role of a process within an install, from the profile's process names. */
export type ProcessRole = 'supervisor' | 'server' | 'engine' | 'other';

/** One process as read from the OS. */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** Short image name (Linux: from exe basename or comm, never truncated to 15 chars when exe is readable). */
  name: string;
  /** Resolved executable path, ` (deleted)` stripped; null when it could not be read. */
  exe: string | null;
  /** True when the executable was replaced or removed while running (Linux ` (deleted)`). */
  exeDeleted?: boolean;
  cmdline: string[];
  /** Start time, milliseconds since the Unix epoch (for display and JSON). */
  startTime: number;
  /** Exact, platform-specific identity token of the start time (Linux: clock ticks since boot; Windows: FILETIME). */
  startKey: string;
  user: string | null;
  /** Linux/macOS: Z for zombie, T for stopped, etc. Zombies count as gone. */
  state?: string;
  /** Linux: number of threads, when more than one (their fd tables may differ from the main thread's). */
  threads?: number;
  /** Linux: the main thread exited but this thread (tid) lives on; the process's files are read through it. */
  liveTask?: number;
}

/** A process seen through an install's scope. */
export interface ScopedProcess extends ProcessInfo {
  role: ProcessRole;
  inScope: boolean;
  /** In scope, and no live in-scope ancestor. */
  orphan: boolean;
  /** Why it is in scope: its executable lies under a root, or an ancestor's does. */
  reason?: 'exe' | 'descendant';
}

export interface Snapshot {
  processes: ProcessInfo[];
  /** pids whose exe/start time could not be read (permission, race). */
  unreadable: ProcessInfo[];
  /** Set when the OS hides some processes from us altogether (Linux /proc mounted with hidepid): the view is incomplete. */
  hidden?: string;
  takenAt: number;
}

export type HolderKind = 'exe' | 'fd' | 'map' | 'cwd' | 'root';

export interface Holder {
  pid: number;
  name: string;
  exe: string | null;
  /** The file under a root that is held. */
  path: string;
  kind: HolderKind;
  inScope: boolean;
  /** The held file was deleted or replaced (still open/mapped). */
  deleted?: boolean;
}

export interface HolderReport {
  /** No holder found. */
  clean: boolean;
  /** Every process could be read. */
  complete: boolean;
  holders: Holder[];
  unknown: ProcessInfo[];
  /** Why the report is incomplete beyond `unknown` (processes hidden from us altogether). */
  hidden?: string;
}

export type StopHow = 'exited' | 'terminated' | 'killed';

export interface StoppedProcess extends ScopedProcess {
  how: StopHow;
}

export interface Survivor extends ScopedProcess {
  /** Why it survived: permission denied, still running after timeout, ... */
  why: string;
}

export interface StopResult {
  ok: boolean;
  /** What was found to stop at the start (for dryRun: what would be stopped). */
  plan: ScopedProcess[];
  stopped: StoppedProcess[];
  survivors: Survivor[];
  holders: Holder[];
  /** Holders that are warnings only (foreign, tied by cwd). */
  warnings: string[];
  unknown: ProcessInfo[];
  complete: boolean;
  /** Services stopped through their manager (systemd unit, Windows service, launchd label). */
  services: ServiceRef[];
  gpu?: { before: GpuUsage[]; after: GpuUsage[] };
  /** The grace and deadline this run used: the options given, else DEFAULTS (sweep's grace is shorter). */
  graceMs: number;
  timeoutMs: number;
  dryRun: boolean;
  durationMs: number;
}

export interface ServiceRef {
  manager: 'systemd' | 'windows-service' | 'launchd';
  name: string;
  /** systemd: system or user manager. */
  scope?: 'system' | 'user';
  /** systemd user units: the owning user (for `systemctl --user --machine=USER@`). */
  user?: string;
  pids: number[];
}

export interface GpuUsage {
  pid: number;
  usedMiB: number;
  gpu: string;
}

/** Everything we know about a product. */
export interface Profile {
  name: string;
  /** Default roots per OS; `~` and `%VAR%` / `$VAR` expanded. */
  roots: Partial<Record<'linux' | 'win32' | 'darwin', string[]>>;
  /**
   * Linux: roots found from a binary on PATH: the binary itself (resolved) plus these paths
   * relative to its directory (Ollama: `ollama` and `../lib/ollama`).
   */
  pathRoots?: { binary: string; relative: string[] };
  services?: { systemd?: string[]; windows?: string[]; launchd?: string[] };
  processes: { supervisor: string[]; server: string[]; engine: string[] };
  /** argv (relative to the first root, or absolute) that prints the version. */
  versionCommand?: string[];
  healthUrl?: string;
  /** argv to start the server when it was running before an upgrade and is not a service. */
  startCommand?: string[];
  /** Base64 Ed25519 public key (raw 32 bytes or SPKI DER) for manifest signatures. */
  publicKey?: string;
  /** Asset names of the product's own releases (a GitHub release feed picks them by name). */
  releaseAssets?: ReleaseAssets;
}

/**
 * Which assets of a release make up an install on each platform: the base archive (the first
 * name the release has) plus every add-on whose `when` pattern matches a path the install
 * already has (relative to the install's prefix, `*` within one path segment).
 */
export interface ReleaseAssets {
  /** The checksum asset in sha256sum format (`<hex>  ./<name>`), e.g. `sha256sum.txt`. */
  checksums?: string;
  /** Platform key (`linux-x64`, `win32-x64`, `darwin-arm64`, ...) → what to pick. */
  platforms: Record<string, { base: string[]; addons?: { when: string; assets: string[] }[] }>;
}

/** Progress events the library emits; the CLI decides how to show them. */
export type CoreEvent =
  | { type: 'snapshot'; processes: number; inScope: number; orphans: number }
  | { type: 'service-stop'; service: ServiceRef }
  | { type: 'signal'; pid: number; name: string; signal: string }
  | { type: 'exited'; pid: number; name: string; how: StopHow }
  | { type: 'freeze'; pids: number[]; round: number }
  | { type: 'wait'; remaining: number; elapsedMs: number }
  | { type: 'holders'; holders: number; unknown: number; attempt: number }
  | { type: 'warning'; message: string };

export type EventSink = (event: CoreEvent) => void;

export interface ScopeOptions {
  /** Install roots: directories or single files. */
  roots: string[];
  profile?: Profile;
}

export interface StopOptions extends ScopeOptions {
  /** Wait this long after the graceful signal before forcing. */
  graceMs?: number;
  /** Overall deadline, including the holder verification retries. */
  timeoutMs?: number;
  dryRun?: boolean;
  /** Skip service managers (tests). */
  skipServices?: boolean;
  /** Extra pids never to touch (besides our own process and its ancestors). */
  protectPids?: number[];
  onEvent?: EventSink;
  /** Aborted on SIGINT/SIGTERM/SIGHUP (reason: the signal's name): thaw what was frozen, then throw interruptedError. */
  signal?: AbortSignal;
}

export interface HolderOptions extends ScopeOptions {
  onEvent?: EventSink;
}

export interface StatusReport {
  roots: string[];
  processes: ScopedProcess[];
  orphans: ScopedProcess[];
  holders: HolderReport;
  gpu: GpuUsage[];
}
