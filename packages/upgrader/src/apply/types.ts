import type { Profile, ServiceRef } from '@llm-upgrade/core';
import type { UpgradeEventSink } from '../events.js';
import type { ReleaseQuery } from '../github/release.js';
import type { MoveOp } from '../transaction/journal.js';
import type { RecoverResult } from '../transaction/recover.js';

export interface ApplyOptions {
  /** A .tar.gz/.tgz/.zip file or a directory; or give feedUrl or archives. */
  source?: string;
  /**
   * Archives without an llm-upgrade.json (a vendor's own release assets: .tar.zst, .tgz/.tar.gz,
   * .zip), local paths or http(s) URLs, laid onto the install in this order (base first,
   * add-ons after) as one transaction. Each must match its line in `checksums` and/or its
   * `sha256ByName` digest (at least one of them).
   */
  archives?: string[];
  /** Path or http(s) URL of a sha256sum file (`<hex>  ./<name>`) covering `archives`. */
  checksums?: string;
  /** Expected SHA-256 (hex, or `sha256:<hex>`) by archive file name, e.g. GitHub's asset `digest`; when a checksum line exists too, both must match. */
  sha256ByName?: Record<string, string>;
  /** The version `archives` hold; without it the staged binary's version command (the profile's) says. */
  version?: string;
  /** Release feed URL (feed.json); the newest release for this platform is installed. */
  feedUrl?: string;
  /** For a `github:OWNER/REPO[@TAG]` feed: the API URL, token and whether pre-releases count. */
  github?: Omit<ReleaseQuery, 'timeoutMs' | 'allowInsecureRedirect'>;
  /** Install roots; the first one is where the package is installed, all are stopped. */
  roots: string[];
  profile?: Profile;
  allowDowngrade?: boolean;
  /** Plan only: nothing is written into the install, the plan cannot be executed. */
  dryRun?: boolean;
  /** Ed25519 public key (file path, PEM or base64); the profile's publicKey otherwise. */
  publicKey?: string;
  /** Start again what was running before (default true). */
  restart?: boolean;
  graceMs?: number;
  timeoutMs?: number;
  healthTimeoutMs?: number;
  /** Platform key to accept (default: this machine's). */
  platform?: string;
  /**
   * Take over a root that llm-upgrade did not install although it holds entries the package
   * does not list (they go to the backup that `rollback` restores). Without it such a root is
   * refused: it may be a shared directory named by mistake.
   */
  adopt?: boolean;
  /** Install a package whose manifest names another product than the installed one. */
  replaceProduct?: boolean;
  /** Follow an https feed's redirect to plain http (loopback tests only). */
  allowInsecureRedirect?: boolean;
  /** A server that never answered its health URL must stay up this long after the restart (default 3 s). */
  stayUpMs?: number;
  /**
   * The app updating itself: when a process of the install is an ancestor of ours, the upgrade
   * cannot stop it and go on. Given, the plan is to run this command line (our own arguments,
   * without node and script) again detached, once that ancestor has exited; not given, such an
   * ancestor is refused (ERR_SELF_IN_SCOPE) when the processes are planned.
   */
  relaunchArgs?: string[];
  onEvent?: UpgradeEventSink;
  /** SIGINT/SIGTERM: before the point of no return everything is undone (and what ran is started again), then ERR_INTERRUPTED. */
  signal?: AbortSignal;
}

/** What was done while planning, in order (nothing of it touches the install itself). */
export type PlanStep = 'lock' | 'recover' | 'fetch' | 'verify' | 'stage';

export interface PlannedProcess {
  pid: number;
  name: string;
  exe: string | null;
  role: string;
  orphan: boolean;
  startKey: string;
}

/**
 * Everything `executeApply` will do, decided before the point of no return. `--dry-run` prints
 * it (`apply --dry-run --json`: the result's `plan`), the terminal question shows it, and
 * `executeApply` journals exactly these `moves`.
 */
export interface ApplyPlan {
  dryRun: boolean;
  /** Where the new version comes from: a package, a feed, foreign archives, a GitHub release. */
  sourceKind: 'package' | 'feed' | 'archives' | 'github';
  /** The package path, the downloaded asset's URL, or the archives' names joined by " + ". */
  source: string;
  root: string;
  roots: string[];
  /** The prefix layout's units (`bin/ollama`, `lib/ollama`), null when the root is the product's own directory. */
  units: string[] | null;
  product: string | null;
  from: string | null;
  /** null only for a relaunch plan (the relaunched upgrader plans afresh). */
  to: string | null;
  /** The same version is installed: executing the plan changes nothing. */
  noop: boolean;
  downgrade: boolean;
  signed: boolean;
  files: number;
  bytes: number;
  steps: { done: PlanStep[]; remaining: string[] };
  /** The swap's renames, in order: what the journal will hold. null when the package was not fetched (a feed's dry run). */
  moves: MoveOp[] | null;
  /** Files the moves add, replace and remove, and the user's entries they carry over (derived from `moves`). */
  add: string[] | null;
  replace: string[] | null;
  remove: string[] | null;
  carry: string[] | null;
  /** In-scope processes running now: all are stopped (and any that start before the stop). */
  processes: PlannedProcess[];
  /** Services found for them: stopped through their manager, started again the same way. */
  services: ServiceRef[];
  restart: { enabled: boolean; wasRunning: boolean; command: string[] | null; healthUrl: string | null };
  /** Free space the install volume needs: the staged files (already written unless a dry run) and the transaction's own files. */
  space: { stagingBytes: number; transactionBytes: number; inodes: number };
  /** The first journaled move: before it nothing of the install has changed; from it on any failure rolls back. */
  pointOfNoReturn: { step: 'swap'; move: MoveOp | null };
  /** An ancestor of ours is part of the install: the plan is to relaunch detached and let it exit. */
  relaunch: { pid: number; startKey: string; name: string; exe: string | null } | null;
  recovered: RecoverResult['action'];
  warnings: string[];
}
