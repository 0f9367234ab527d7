import { mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import semver from 'semver';
import {
  DEFAULTS,
  type ErrorDetails,
  errors,
  LlmUpgradeError,
  platformKey,
  type Profile,
  type ServiceRef,
  stop,
  throwIfInterrupted,
  toLlmUpgradeError,
} from '@llm-upgrade/core';
import type { UpgradeEventSink } from '../events.js';
import { download, fetchFeed, newestFor } from '../feed.js';
import { resolveForeignArchives } from '../foreign/resolve.js';
import { archiveName, stageForeignArchives } from '../foreign/stage-archives.js';
import { versionOfStaged } from '../foreign/staged-version.js';
import { lexists, removeTree, walk } from '../fsutil.js';
import type { ReleaseQuery } from '../github/release.js';
import { githubArchivesSource } from '../github/source.js';
import { isGithubFeed } from '../github/spec.js';
import { STATE_DIR } from '../installed.js';
import { installLayout, placeInUnits } from '../layout.js';
import { type Manifest, parseManifest, unsafeEntryError } from '../manifest.js';
import { statePaths } from '../paths.js';
import { inScopeAncestor, RELAUNCH_ENV, waitForRelaunchParent } from '../self-relaunch.js';
import { loadPublicKey, parsePublicKey } from '../signature.js';
import { openSource } from '../source/open.js';
import { stagePackage } from '../source/stage.js';
import { verifyPackage } from '../source/verify.js';
import { type FileIdentity, identityOfFile, versionOfInstall } from '../transaction/checks.js';
import type { MoveOp } from '../transaction/journal.js';
import { acquireLock, type LockHandle } from '../transaction/lock.js';
import { applyModesAndOwners } from '../transaction/modes.js';
import { type RecoverResult, recoverUnderLock } from '../transaction/recover.js';
import { planMoves, type StagedTree, stagedFromPaths, stagedOnDisk } from '../transaction/swap.js';
import { listedPaths, ownedNames } from '../transaction/transaction.js';

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

/** What the plan holds that is not for printing: the lock, the staged tree, the manifests. */
export interface PlanState {
  opts: ApplyOptions;
  lock: LockHandle | null;
  installed: Manifest | null;
  manifest: Manifest | null;
  /** The staged new tree (in the state directory) the plan's moves install. */
  stageDir: string | null;
  identities: Map<string, FileIdentity>;
  graceMs: number;
  timeoutMs: number;
  healthTimeoutMs: number;
  changed: boolean;
  executed: boolean;
}

const states = new WeakMap<ApplyPlan, PlanState>();

/** The plan's internals, once: a plan runs at most one time. */
export function takePlanState(plan: ApplyPlan): PlanState {
  const st = states.get(plan);
  if (!st)
    throw errors.usageError({
      message: 'executeApply needs the plan planApply returned (a plan read back from JSON holds no staged files or lock)',
      hint: 'Call planApply and pass its result unchanged.',
      phase: 'usage',
      changed: false,
    });
  if (st.executed)
    throw errors.usageError({
      message: `this plan for ${plan.root} was executed already`,
      hint: 'Plan again.',
      phase: 'usage',
      changed: false,
    });
  st.executed = true;
  return st;
}

/** Gives up a plan that will not be executed (the question was answered no): staging goes, the lock is released. */
export async function discardApplyPlan(plan: ApplyPlan): Promise<void> {
  const st = states.get(plan);
  if (!st || st.executed) return;
  st.executed = true;
  await cleanUpUnexecuted(plan.root, st.stageDir);
  await st.lock?.release();
}

/** Staging and downloads of a plan that never reached the swap; a kept journal keeps staging for recover. */
export async function cleanUpUnexecuted(root: string, stageDir: string | null): Promise<void> {
  const paths = statePaths(root);
  // Keep a partial download for the next run to resume; a complete one is not trusted again.
  for (const f of await walk(paths.downloads).catch(() => []))
    if (f.kind === 'file' && !f.path.endsWith('.part')) await removeTree(join(paths.downloads, f.path)).catch(() => undefined);
  if ((await walk(paths.downloads).catch(() => [])).length === 0) await removeTree(paths.downloads).catch(() => undefined);
  if (!(await lexists(paths.journal).catch(() => true))) {
    await removeTree(paths.staging).catch(() => undefined);
    if (stageDir) await removeTree(stageDir).catch(() => undefined);
  }
}

async function installedManifest(root: string): Promise<Manifest | null> {
  try {
    return parseManifest(await readFile(statePaths(root).installed), statePaths(root).installed);
  } catch {
    return null;
  }
}

const pathsOf = (m: Manifest) => [...m.files.map((f) => f.path), ...(m.links ?? []).map((l) => l.path)];

/**
 * An install root we did not install ourselves may be a shared directory given by mistake
 * (`--install-dir /usr/local/bin`): its entries that the package does not list would all be
 * moved aside. Refuse before anything is written unless the caller adopts the root.
 */
async function refuseUnlistedEntries(root: string, manifest: Manifest, adopt: boolean): Promise<void> {
  if (adopt) return;
  const listed = new Set(pathsOf(manifest).map((p) => p.split('/')[0]!));
  const present = await readdir(root).catch(() => [] as string[]);
  const unlisted = present.filter((name) => name !== STATE_DIR && !listed.has(name)).sort();
  if (unlisted.length === 0) return;
  const shown = unlisted.slice(0, 5).join(', ') + (unlisted.length > 5 ? `, … (${unlisted.length} in all)` : '');
  throw errors.usageError({
    message: `${root} was not installed by llm-upgrade and holds entries the package does not list: ${shown}`,
    hint: "Point --install-dir at the product's own directory, or pass --adopt to take it over (unlisted entries move to the backup that rollback restores).",
    phase: 'resolve',
    changed: false,
    details: { root, unlisted },
  });
}

/** A prefix layout takes only what lies inside its roots: a package listing `bin/othertool` would land beside them. */
function refuseOutsideUnits(manifest: Manifest, units: readonly string[] | null, where: string): void {
  if (!units) return;
  for (const p of pathsOf(manifest)) {
    if (placeInUnits(p, units) !== 'inside') throw unsafeEntryError(p, `${where}: lies outside the install's roots (${units.join(', ')})`);
  }
}

/** A prefix layout's roots that exist now must all come with the new version: an add-on alone would remove bin/ollama. */
async function refuseMissingUnits(root: string, units: readonly string[] | null, manifest: Manifest, where: string): Promise<void> {
  if (!units) return;
  const paths = pathsOf(manifest);
  for (const u of units) {
    if (!(await lexists(join(root, ...u.split('/'))))) continue;
    if (paths.some((p) => placeInUnits(p, [u]) === 'inside')) continue;
    throw errors.badPackageError({
      message: `${where} has nothing for ${join(root, u)}, which the install has: installing it would remove ${u}`,
      hint: 'Give the base archive first and the add-ons after it (e.g. ollama-linux-amd64.tar.zst ollama-linux-amd64-rocm.tar.zst).',
      phase: 'resolve',
      changed: false,
      details: { root: join(root, u) },
    });
  }
}

function downgradeError(message: string, details: ErrorDetails<'ERR_DOWNGRADE'>): LlmUpgradeError {
  return new LlmUpgradeError({
    code: 'ERR_DOWNGRADE',
    message,
    hint: 'Pass --allow-downgrade to install an older version.',
    phase: 'resolve',
    changed: false,
    details,
  });
}

/** The product an archive belongs to, from its asset name: `ollama-linux-amd64.tar.zst` → `ollama`. */
function productOf(archiveFile: string): string {
  return archiveFile.split(/[-_.]/)[0] || archiveFile;
}

/** Files under a move's path: the path itself or anything below it. */
const under = (p: string, top: string) => p === top || p.startsWith(`${top}/`);

/** The files the moves add, replace and remove: the new tree's under each install, the disk's under each backup. */
async function changesOf(root: string, moves: MoveOp[], next: string[]) {
  const carried = moves.filter((m) => m.op === 'carry').map((m) => m.path);
  const backedUp = new Set<string>();
  for (const m of moves.filter((x) => x.op === 'backup')) {
    const at = join(root, ...m.path.split('/'));
    const entries = await walk(at).catch(() => null);
    if (entries === null) backedUp.add(m.path);
    else for (const e of entries) if (e.kind !== 'dir') backedUp.add(`${m.path}/${e.path}`);
  }
  const installs = moves.filter((m) => m.op === 'install').map((m) => m.path);
  const incoming = next.filter((p) => installs.some((top) => under(p, top)));
  const incomingSet = new Set(incoming);
  return {
    add: incoming.filter((p) => !backedUp.has(p)),
    replace: incoming.filter((p) => backedUp.has(p)),
    remove: [...backedUp].filter((p) => !incomingSet.has(p) && !carried.some((c) => under(p, c))).sort(),
    carry: carried,
  };
}

interface Context {
  opts: ApplyOptions;
  roots: string[];
  root: string;
  units: string[] | null;
  platform: string;
  graceMs: number;
  timeoutMs: number;
  healthTimeoutMs: number;
  dryRun: boolean;
  steps: PlanStep[];
  warnings: string[];
  recovered: RecoverResult['action'];
  changed: boolean;
  lock: LockHandle | null;
}

/** The new version, resolved: its manifest, where it is staged (if it is), the tree the moves install. */
interface Resolved {
  sourceKind: ApplyPlan['sourceKind'];
  source: string;
  manifest: Manifest;
  from: string | null;
  signed: boolean;
  bytes: number;
  stageDir: string | null;
  tree: StagedTree;
  identities: Map<string, FileIdentity>;
  /** A directory of the dry run's own, removed once the moves are planned. */
  scratch: string | null;
}

function checkOptions(opts: ApplyOptions): void {
  if (!opts.roots.length)
    throw errors.usageError({ message: 'apply needs an install root', hint: 'Give --install-dir PATH.', phase: 'usage', changed: false });
  const archives = opts.archives ?? [];
  if ([opts.source, opts.feedUrl, archives.length > 0 ? archives : undefined].filter((x) => x !== undefined).length !== 1)
    throw errors.usageError({
      message: 'apply needs exactly one of a package path, --feed URL or archives with --checksums',
      hint: 'llm-upgrade apply ./pkg.tar.gz --install-dir DIR, or llm-upgrade apply A.tar.zst B.tar.zst --checksums sha256sum.txt',
      phase: 'usage',
      changed: false,
    });
}

async function contextFor(opts: ApplyOptions): Promise<Context> {
  const roots = opts.roots.map((r) => resolve(r));
  const { base: root, units } = installLayout(roots);
  const rootStat = await stat(root).catch(() => null);
  if (rootStat && !rootStat.isDirectory())
    throw errors.usageError({
      message: `${root} is a file; apply installs into a directory`,
      hint: 'Give the install directory as the first --install-dir.',
      phase: 'usage',
      changed: false,
    });
  const timeoutMs = opts.timeoutMs ?? DEFAULTS.timeoutMs;
  return {
    opts,
    roots,
    root,
    units,
    platform: opts.platform ?? platformKey(),
    graceMs: opts.graceMs ?? DEFAULTS.stopGraceMs,
    timeoutMs,
    healthTimeoutMs: opts.healthTimeoutMs ?? timeoutMs,
    dryRun: opts.dryRun === true,
    steps: [],
    warnings: [],
    recovered: 'nothing',
    changed: false,
    lock: null,
  };
}

function emptyPlan(c: Context, fields: Partial<ApplyPlan> & Pick<ApplyPlan, 'sourceKind' | 'source' | 'from' | 'to'>): ApplyPlan {
  return {
    dryRun: c.dryRun,
    root: c.root,
    roots: c.roots,
    units: c.units,
    product: null,
    noop: false,
    downgrade: false,
    signed: false,
    files: 0,
    bytes: 0,
    steps: { done: [...c.steps], remaining: [] },
    moves: null,
    add: null,
    replace: null,
    remove: null,
    carry: null,
    processes: [],
    services: [],
    restart: { enabled: c.opts.restart !== false, wasRunning: false, command: null, healthUrl: null },
    space: { stagingBytes: 0, transactionBytes: 0, inodes: 0 },
    pointOfNoReturn: { step: 'swap', move: null },
    relaunch: null,
    recovered: c.recovered,
    warnings: c.warnings,
    ...fields,
  };
}

function noopPlan(c: Context, r: Pick<ApplyPlan, 'sourceKind' | 'source' | 'from' | 'to'>): ApplyPlan {
  c.warnings.push(`${r.to} is already installed; nothing to do`);
  return emptyPlan(c, { ...r, noop: true });
}

function checkVersions(
  from: string | null,
  to: string,
  allowDowngrade: boolean | undefined,
  older: () => string,
): 'noop' | 'downgrade' | 'upgrade' {
  if (from && semver.eq(from, to)) return 'noop';
  if (from && semver.lt(to, from)) {
    if (!allowDowngrade) throw downgradeError(older(), { from, to });
    return 'downgrade';
  }
  return 'upgrade';
}

/**
 * The app updating itself: an ancestor of ours is part of the install and would be stopped with
 * it. The relaunched upgrader waits for that ancestor to exit and plans afresh.
 */
async function relaunchStep(c: Context): Promise<ApplyPlan | null> {
  if (c.dryRun) return null;
  if (process.env[RELAUNCH_ENV]) {
    if (!(await waitForRelaunchParent(process.env, c.timeoutMs)))
      c.warnings.push(
        `the process that started this upgrade is still running after ${c.timeoutMs} ms; it will be stopped with the install`,
      );
    return null;
  }
  if (!c.opts.relaunchArgs) return null;
  const ancestor = await inScopeAncestor(c.roots);
  if (!ancestor) return null;
  const installed = await installedManifest(c.root);
  const plan = emptyPlan(c, {
    sourceKind: 'package',
    source: c.opts.source ?? c.opts.feedUrl ?? (c.opts.archives ?? []).join(' + '),
    from: installed?.version ?? null,
    to: null,
    relaunch: { pid: ancestor.pid, startKey: ancestor.startKey, name: ancestor.name, exe: ancestor.exe },
    steps: { done: [], remaining: ['relaunch detached', 'wait for the ancestor to exit', 'plan afresh'] },
  });
  states.set(plan, stateOf(c, installed, null, null, new Map()));
  return plan;
}

function stateOf(
  c: Context,
  installed: Manifest | null,
  manifest: Manifest | null,
  stageDir: string | null,
  identities: Map<string, FileIdentity>,
): PlanState {
  return {
    opts: c.opts,
    lock: c.lock,
    installed,
    manifest,
    stageDir,
    identities,
    graceMs: c.graceMs,
    timeoutMs: c.timeoutMs,
    healthTimeoutMs: c.healthTimeoutMs,
    changed: c.changed,
    executed: false,
  };
}

/**
 * Decides everything `executeApply` will do, before the point of no return: the source (a
 * package, a feed, foreign archives, a GitHub release) fetched, verified and — unless a dry run —
 * staged under the lock it keeps; the versions; the swap's exact moves; the processes and
 * services to stop; the space needed; the restart. A dry run writes nothing into the install.
 */
export async function planApply(opts: ApplyOptions): Promise<ApplyPlan> {
  checkOptions(opts);
  const c = await contextFor(opts);
  const relaunch = await relaunchStep(c);
  if (relaunch) return relaunch;
  let archives = opts.archives ?? [];
  let label: string | null = null;
  let versionGiven = opts.version;
  let sha256ByName = opts.sha256ByName;
  if (opts.feedUrl && isGithubFeed(opts.feedUrl)) {
    // The release's assets for this install become foreign archives with the digests the release
    // vouches for; same version or a refused downgrade is decided before anything is downloaded.
    const gh = await githubArchivesSource({
      feed: opts.feedUrl,
      roots: c.roots,
      profile: opts.profile,
      platform: c.platform,
      ...(opts.github ?? {}),
      timeoutMs: c.timeoutMs,
      ...(opts.allowInsecureRedirect ? { allowInsecureRedirect: true } : {}),
    });
    c.steps.push('fetch');
    const installed = await installedManifest(c.root);
    const from = installed?.version ?? (await versionOfInstall(c.root, opts.profile?.versionCommand));
    const which = checkVersions(
      from,
      gh.version,
      opts.allowDowngrade,
      () => `${gh.label} is ${gh.version}, older than the installed ${from}`,
    );
    const head = { sourceKind: 'github' as const, source: gh.label, from, to: gh.version };
    if (which === 'noop') return noopPlan(c, head);
    if (c.dryRun) {
      c.warnings.push(
        `dry run with --feed ${gh.resolved.feed}: ${gh.resolved.archives.map((a) => a.fileName).join(' + ')} not downloaded, so the file plan is not known`,
      );
      return emptyPlan(c, {
        ...head,
        downgrade: which === 'downgrade',
        bytes: gh.resolved.archives.reduce((n, a) => n + a.size, 0),
        steps: { done: [...c.steps], remaining: ['fetch', 'verify', 'stage', 'stop', 'swap', 'post-check', 'restart', 'health', 'commit'] },
      });
    }
    archives = gh.archives;
    label = gh.label;
    versionGiven = gh.version;
    sha256ByName = gh.sha256ByName;
  }

  c.lock = c.dryRun ? null : await acquireLock(c.root, 'apply');
  if (c.lock) c.steps.push('lock');
  let phase: 'recover' | 'fetch' | 'verify' | 'stage' | 'resolve' = 'recover';
  let resolved: Resolved | null = null;
  try {
    if (c.lock) {
      opts.onEvent?.({ type: 'phase', phase: 'recover' });
      const r = await recoverUnderLock({
        roots: c.roots,
        profile: opts.profile,
        graceMs: c.graceMs,
        timeoutMs: c.timeoutMs,
        healthTimeoutMs: c.healthTimeoutMs,
        onEvent: opts.onEvent,
      });
      c.recovered = r.action;
      c.changed = r.changed;
      c.steps.push('recover');
    }
    const installed = await installedManifest(c.root);
    phase = 'fetch';
    opts.onEvent?.({ type: 'phase', phase: 'fetch' });
    const setPhase = (p: typeof phase) => {
      phase = p;
    };
    const got =
      archives.length > 0
        ? await resolveForeign(c, installed, { archives, sha256ByName, version: versionGiven, label: label ?? undefined }, setPhase)
        : await resolvePackage(c, installed, setPhase);
    if ('noop' in got || 'unknown' in got) {
      await c.lock?.release();
      return got.plan;
    }
    resolved = got;
    phase = 'resolve';
    const plan = await planFrom(c, installed, resolved);
    if (resolved.scratch) await removeTree(resolved.scratch).catch(() => undefined);
    if (!c.dryRun) states.set(plan, stateOf(c, installed, resolved.manifest, resolved.stageDir, resolved.identities));
    return plan;
  } catch (e) {
    if (resolved?.scratch) await removeTree(resolved.scratch).catch(() => undefined);
    if (!c.dryRun) await cleanUpUnexecuted(c.root, resolved?.stageDir ?? null);
    await c.lock?.release();
    throw toLlmUpgradeError(e, phase, c.changed);
  }
}

type Outcome = Resolved | { noop: true; plan: ApplyPlan } | { unknown: true; plan: ApplyPlan };

/** Our own package (a file, a directory, or the newest on a feed): verify, resolve, then stage. */
async function resolvePackage(
  c: Context,
  installed: Manifest | null,
  setPhase: (p: 'fetch' | 'verify' | 'stage' | 'resolve') => void,
): Promise<Outcome> {
  const { opts, root, units } = c;
  const paths = statePaths(root);
  const keyText = opts.publicKey ?? opts.profile?.publicKey;
  const publicKey =
    keyText === undefined
      ? undefined
      : opts.publicKey !== undefined
        ? await loadPublicKey(keyText)
        : parsePublicKey(keyText, `profile ${opts.profile?.name}`);
  let sourcePath: string;
  let feedVersion: string | undefined;
  const sourceKind = opts.feedUrl ? 'feed' : 'package';
  if (opts.feedUrl) {
    const fetchOpts = { timeoutMs: c.timeoutMs, allowInsecureRedirect: opts.allowInsecureRedirect === true };
    const feed = await fetchFeed(opts.feedUrl, fetchOpts);
    const top = newestFor(feed, c.platform);
    if (!top)
      throw errors.fetchError({
        message: `${opts.feedUrl} has no release for ${c.platform}`,
        hint: 'Check the feed or pass --platform.',
        phase: 'fetch',
        changed: false,
      });
    feedVersion = top.version;
    const from = installed?.version ?? null;
    const which = checkVersions(
      from,
      top.version,
      opts.allowDowngrade,
      () => `the feed's newest ${c.platform} release ${top.version} is older than the installed ${from}`,
    );
    if (which === 'noop') return { noop: true, plan: noopPlan(c, { sourceKind, source: opts.feedUrl, from, to: top.version }) };
    if (c.dryRun) {
      c.warnings.push('dry run with --feed: the package was not downloaded, so the file plan is not known');
      return {
        unknown: true,
        plan: emptyPlan(c, {
          sourceKind,
          source: top.asset.url,
          from,
          to: top.version,
          downgrade: which === 'downgrade',
          bytes: top.asset.size,
          steps: {
            done: [...c.steps],
            remaining: ['fetch', 'verify', 'stage', 'stop', 'swap', 'post-check', 'restart', 'health', 'commit'],
          },
        }),
      };
    }
    sourcePath = await download(top.asset, paths.downloads, opts.onEvent, fetchOpts);
    c.changed = true;
    c.steps.push('fetch');
  } else sourcePath = resolve(opts.source!);

  throwIfInterrupted(opts.signal, 'fetch', c.changed);
  setPhase('verify');
  opts.onEvent?.({ type: 'phase', phase: 'verify' });
  const source = await openSource(sourcePath);
  const verified = await verifyPackage(source, {
    publicKey,
    platform: c.platform,
    onProgress: (p) => opts.onEvent?.({ type: 'verify', ...p }),
  });
  const manifest = verified.manifest;
  c.steps.push('verify');
  if (feedVersion && !semver.eq(feedVersion, manifest.version)) {
    throw errors.badPackageError({
      message: `${sourcePath}: the feed says ${feedVersion}, the package's manifest says ${manifest.version}`,
      hint: 'The feed and the package disagree; tell the publisher.',
      phase: 'verify',
      changed: false,
    });
  }
  refuseOutsideUnits(manifest, units, sourcePath);

  setPhase('resolve');
  if (installed && installed.name !== manifest.name && !opts.replaceProduct) {
    throw errors.badPackageError({
      message: `${sourcePath} is ${manifest.name} ${manifest.version}, but ${root} holds ${installed.name} ${installed.version}`,
      hint: 'Check the package; pass --replace-product to replace one product with another.',
      phase: 'resolve',
      changed: c.changed,
      details: { installed: installed.name, package: manifest.name },
    });
  }
  // A dry run runs nothing from the package: only the installed product's own version command.
  const from =
    installed?.version ??
    (await versionOfInstall(root, c.dryRun ? opts.profile?.versionCommand : (manifest.smoke ?? opts.profile?.versionCommand)));
  if (!installed && !units) await refuseUnlistedEntries(root, manifest, opts.adopt === true);
  await refuseMissingUnits(root, units, manifest, sourcePath);
  const label = opts.feedUrl ?? sourcePath;
  const which = checkVersions(
    from,
    manifest.version,
    opts.allowDowngrade,
    () => `${sourcePath} holds ${manifest.name} ${manifest.version}, older than the installed ${from}`,
  );
  if (which === 'noop') return { noop: true, plan: noopPlan(c, { sourceKind, source: sourcePath, from, to: manifest.version }) };
  const base = {
    sourceKind,
    source: label,
    manifest,
    from,
    signed: verified.signed,
    bytes: manifest.files.reduce((n, f) => n + f.size, 0),
  } as const;
  if (c.dryRun) return { ...base, stageDir: null, tree: stagedFromPaths(pathsOf(manifest)), identities: new Map(), scratch: null };

  throwIfInterrupted(opts.signal, 'verify', c.changed);
  setPhase('stage');
  opts.onEvent?.({ type: 'phase', phase: 'stage' });
  c.changed = true;
  await stagePackage(source, manifest, paths.staging, (p) => opts.onEvent?.({ type: 'stage', ...p }));
  await applyModesAndOwners(root, paths.staging, manifest);
  throwIfInterrupted(opts.signal, 'stage', true);
  const identities = new Map<string, FileIdentity>();
  for (const f of manifest.files) identities.set(f.path, await identityOfFile(join(paths.staging, ...f.path.split('/'))));
  if (opts.feedUrl) await removeTree(paths.downloads);
  c.steps.push('stage');
  return { ...base, stageDir: paths.staging, tree: stagedOnDisk(paths.staging), identities, scratch: null };
}

/**
 * Archives without a manifest: fetch → verify+stage (one pass per archive, hashed while read) →
 * version (given, or the staged binary's) → the same resolve as our packages, with the manifest
 * derived from what was verified. A dry run stages into a directory of its own and removes it.
 */
async function resolveForeign(
  c: Context,
  installed: Manifest | null,
  given: { archives: string[]; sha256ByName: Record<string, string> | undefined; version: string | undefined; label: string | undefined },
  setPhase: (p: 'fetch' | 'verify' | 'stage' | 'resolve') => void,
): Promise<Outcome> {
  const { opts, root, units } = c;
  const paths = statePaths(root);
  const label = given.label ?? given.archives.map((a) => archiveName(a)).join(' + ');
  const sourceKind = given.label ? 'github' : 'archives';
  setPhase('fetch');
  const fetchOpts = { timeoutMs: c.timeoutMs, allowInsecureRedirect: opts.allowInsecureRedirect === true };
  if (given.archives.some((a) => /^https?:\/\//i.test(a))) c.changed = true;
  const resolvedArchives = await resolveForeignArchives({
    archives: given.archives,
    checksums: opts.checksums,
    sha256ByName: given.sha256ByName,
    downloads: paths.downloads,
    fetch: fetchOpts,
    onEvent: opts.onEvent,
  });
  if (!c.steps.includes('fetch')) c.steps.push('fetch');

  throwIfInterrupted(opts.signal, 'fetch', c.changed);
  setPhase('verify');
  opts.onEvent?.({ type: 'phase', phase: 'verify', detail: label });
  const scratch = c.dryRun ? await mkdtemp(join(tmpdir(), 'llm-upgrade-dry-run-')) : null;
  const staging = scratch ?? paths.staging;
  try {
    const tree = await stageForeignArchives(resolvedArchives, staging, {
      units,
      onProgress: (p) => opts.onEvent?.({ type: 'verify', bytes: p.readBytes, entries: p.files }),
    });
    if (!c.dryRun) c.changed = true;
    c.steps.push('verify', ...(c.dryRun ? [] : (['stage'] as const)));
    const version = await versionOfStaged(staging, given.version, opts.profile?.versionCommand, Math.min(c.timeoutMs, 15_000));
    const manifest: Manifest = {
      name: productOf(resolvedArchives[0]!.name),
      version,
      platform: c.platform,
      files: tree.files,
      ...(tree.links.length ? { links: tree.links } : {}),
    };
    if (tree.files.length === 0 && tree.links.length === 0)
      throw errors.badPackageError({
        message: `${label} hold no files`,
        hint: 'Give the release archives themselves.',
        phase: 'verify',
        changed: false,
      });

    setPhase('resolve');
    if (installed && installed.name !== manifest.name && !opts.replaceProduct) {
      throw errors.badPackageError({
        message: `${label} is ${manifest.name} ${manifest.version}, but ${root} holds ${installed.name} ${installed.version}`,
        hint: 'Check the archives; pass --replace-product to replace one product with another.',
        phase: 'resolve',
        changed: false,
        details: { installed: installed.name, package: manifest.name },
      });
    }
    const from = installed?.version ?? (await versionOfInstall(root, opts.profile?.versionCommand));
    if (!installed && !units) await refuseUnlistedEntries(root, manifest, opts.adopt === true);
    await refuseMissingUnits(root, units, manifest, label);
    const which = checkVersions(
      from,
      version,
      opts.allowDowngrade,
      () => `${label} hold ${manifest.name} ${version}, older than the installed ${from}`,
    );
    if (which === 'noop') {
      await removeTree(staging).catch(() => undefined);
      return { noop: true, plan: noopPlan(c, { sourceKind, source: label, from, to: version }) };
    }
    const identities = new Map<string, FileIdentity>();
    if (!c.dryRun) {
      setPhase('stage');
      opts.onEvent?.({ type: 'phase', phase: 'stage' });
      await applyModesAndOwners(root, staging, manifest);
      throwIfInterrupted(opts.signal, 'stage', true);
      for (const f of manifest.files) identities.set(f.path, await identityOfFile(join(staging, ...f.path.split('/'))));
      await removeTree(paths.downloads);
    }
    return {
      sourceKind,
      source: label,
      manifest,
      from,
      signed: false,
      bytes: tree.bytes,
      stageDir: c.dryRun ? null : staging,
      tree: stagedOnDisk(staging),
      identities,
      scratch,
    };
  } catch (e) {
    if (scratch) await removeTree(scratch).catch(() => undefined);
    throw e;
  }
}

function journalSpace(moves: MoveOp[], installed: Manifest | null, manifest: Manifest): { bytes: number; inodes: number } {
  const manifestBytes = (m: Manifest | null) => (m ? Buffer.byteLength(JSON.stringify(m, null, 2)) + 256 : 0);
  const journal = Buffer.byteLength(JSON.stringify(moves)) + manifestBytes(installed) + manifestBytes(manifest) + 8192;
  return { bytes: 2 * journal + manifestBytes(manifest) + manifestBytes(installed) + 4096, inodes: 4 };
}

/** The resolved version's moves, the processes and services in scope now, the space and the restart. */
async function planFrom(c: Context, installed: Manifest | null, r: Resolved): Promise<ApplyPlan> {
  const { opts } = c;
  const moves = await planMoves(c.root, r.tree, ownedNames(installed), listedPaths(installed), c.units);
  const changes = await changesOf(c.root, moves, pathsOf(r.manifest));
  // Refuses (ERR_SELF_IN_SCOPE) when our own process or an ancestor is part of the install.
  const running = await stop({ roots: c.roots, ...(opts.profile ? { profile: opts.profile } : {}), dryRun: true });
  const processes = running.plan.map((p) => ({
    pid: p.pid,
    name: p.name,
    exe: p.exe,
    role: p.role,
    orphan: p.orphan,
    startKey: p.startKey,
  }));
  const restartEnabled = opts.restart !== false;
  const wasRunning = restartEnabled && (running.services.length > 0 || processes.length > 0);
  const space = journalSpace(moves, installed, r.manifest);
  const profile = opts.profile;
  return emptyPlan(c, {
    sourceKind: r.sourceKind,
    source: r.source,
    product: r.manifest.name,
    from: r.from,
    to: r.manifest.version,
    downgrade: r.from !== null && semver.lt(r.manifest.version, r.from),
    signed: r.signed,
    files: r.manifest.files.length + (r.manifest.links?.length ?? 0),
    bytes: r.bytes,
    steps: {
      done: [...c.steps],
      remaining: [...(c.dryRun ? ['stage'] : []), 'stop', 'swap', 'post-check', ...(wasRunning ? ['restart', 'health'] : []), 'commit'],
    },
    moves,
    ...changes,
    processes,
    services: running.services,
    restart: {
      enabled: restartEnabled,
      wasRunning,
      command: profile?.startCommand ?? null,
      healthUrl: profile?.healthUrl ?? null,
    },
    space: { stagingBytes: r.bytes, transactionBytes: space.bytes, inodes: space.inodes },
    pointOfNoReturn: { step: 'swap', move: moves[0] ?? null },
  });
}
