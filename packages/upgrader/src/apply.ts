import { lstat, mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import semver from 'semver';
import {
  DEFAULTS,
  LlmUpgradeError,
  platformKey,
  throwIfInterrupted,
  toLlmUpgradeError,
  type Phase,
  type Profile,
  type StoppedProcess,
  errors,
  type ErrorDetails,
} from '@llm-upgrade/core';
import { identityOfFile, versionOfInstall, type FileIdentity } from './transaction/checks.js';
import { applyModesAndOwners } from './transaction/modes.js';
import { inScopeNow, runTransaction } from './transaction/transaction.js';
import { download, fetchFeed, newestFor } from './feed.js';
import { lexists, removeTree, walk } from './fsutil.js';
import { acquireLock } from './transaction/lock.js';
import { parseManifest, type Manifest } from './manifest.js';
import { statePaths } from './paths.js';
import { recoverUnderLock, type RecoverResult } from './transaction/recover.js';
import { loadPublicKey, parsePublicKey } from './signature.js';
import { openSource } from './source/open.js';
import { stagePackage } from './source/stage.js';
import { verifyPackage } from './source/verify.js';
import { STATE_DIR } from './installed.js';
import { installLayout, placeInUnits } from './layout.js';
import { unsafeEntryError } from './manifest.js';
import { resolveForeignArchives } from './foreign/resolve.js';
import { archiveName, stageForeignArchives } from './foreign/stage-archives.js';
import { versionOfStaged } from './foreign/staged-version.js';
import type { UpgradeEventSink } from './events.js';
import { githubArchivesSource } from './github/source.js';
import { isGithubFeed } from './github/spec.js';
import type { ReleaseQuery } from './github/release.js';

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
  onEvent?: UpgradeEventSink;
  /** SIGINT/SIGTERM: before the point of no return everything is undone (and what ran is started again), then ERR_INTERRUPTED. */
  signal?: AbortSignal;
}

export interface PlannedChanges {
  add: string[];
  replace: string[];
  remove: string[];
  processes: { pid: number; name: string; exe: string | null; role: string; orphan: boolean }[];
}

export interface ApplyResult {
  ok: true;
  from: string | null;
  to: string;
  /** The last phase reached: "commit" after a real upgrade, "resolve" for a no-op, "plan" for a dry run. */
  phase: string;
  changed: boolean;
  stopped: StoppedProcess[];
  /** stop → healthy (or → checked when nothing was running), in ms. */
  downtimeMs: number;
  /** stop → every new file in place, in ms. */
  filesInPlaceMs: number;
  rolledBack: false;
  noop?: boolean;
  dryRun?: boolean;
  plan?: PlannedChanges;
  restarted: string | null;
  healthy: boolean | null;
  files: number;
  bytes: number;
  signed: boolean;
  journalSteps: number;
  recovered: RecoverResult['action'];
  source: string;
  root: string;
  warnings: string[];
}

async function installedManifest(root: string): Promise<Manifest | null> {
  try {
    return parseManifest(await readFile(statePaths(root).installed), statePaths(root).installed);
  } catch {
    return null;
  }
}

async function currentFiles(root: string, units: readonly string[] | null): Promise<string[]> {
  const files = async (dir: string, prefix: string) =>
    (await walk(dir, new Set([STATE_DIR])).catch(() => [])).filter((e) => e.kind !== 'dir').map((e) => `${prefix}${e.path}`);
  if (!units) return files(root, '');
  const out: string[] = [];
  for (const u of units) {
    const st = await lstat(join(root, ...u.split('/'))).catch(() => null);
    if (st?.isDirectory()) out.push(...(await files(join(root, ...u.split('/')), `${u}/`)));
    else if (st) out.push(u);
  }
  return out;
}

async function planChanges(
  root: string,
  units: readonly string[] | null,
  manifest: Manifest,
  roots: string[],
  profile: Profile | undefined,
): Promise<PlannedChanges> {
  const current = new Set(await currentFiles(root, units));
  const next = [...manifest.files.map((f) => f.path), ...(manifest.links ?? []).map((l) => l.path)];
  const nextSet = new Set(next);
  const running = await inScopeNow(roots, profile).catch(() => []);
  return {
    add: next.filter((p) => !current.has(p)),
    replace: next.filter((p) => current.has(p)),
    remove: [...current].filter((p) => !nextSet.has(p)),
    processes: running.map((p) => ({ pid: p.pid, name: p.name, exe: p.exe, role: p.role, orphan: p.orphan })),
  };
}

/**
 * An install root we did not install ourselves may be a shared directory given by mistake
 * (`--install-dir /usr/local/bin`): its entries that the package does not list would all be
 * moved aside. Refuse before anything is written unless the caller adopts the root.
 */
async function refuseUnlistedEntries(root: string, manifest: Manifest, adopt: boolean): Promise<void> {
  if (adopt) return;
  const listed = new Set([...manifest.files.map((f) => f.path), ...(manifest.links ?? []).map((l) => l.path)].map((p) => p.split('/')[0]!));
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
  for (const p of [...manifest.files.map((f) => f.path), ...(manifest.links ?? []).map((l) => l.path)]) {
    if (placeInUnits(p, units) !== 'inside') throw unsafeEntryError(p, `${where}: lies outside the install's roots (${units.join(', ')})`);
  }
}

/** A prefix layout's roots that exist now must all come with the new version: an add-on alone would remove bin/ollama. */
async function refuseMissingUnits(root: string, units: readonly string[] | null, manifest: Manifest, where: string): Promise<void> {
  if (!units) return;
  const paths = [...manifest.files.map((f) => f.path), ...(manifest.links ?? []).map((l) => l.path)];
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

function resolveError(code: 'ERR_DOWNGRADE', message: string, hint: string, details: ErrorDetails<'ERR_DOWNGRADE'>): LlmUpgradeError {
  return new LlmUpgradeError({ code, message, hint, phase: 'resolve', changed: false, details });
}

/**
 * `apply`: lock → recover → resolve → fetch → verify → stage → stop → swap → post-check →
 * restart → health → commit. Slow work (download, verify, stage) happens before the stop.
 */
export async function apply(opts: ApplyOptions): Promise<ApplyResult> {
  if (!opts.roots.length)
    throw errors.usageError({ message: 'apply needs an install root', hint: 'Give --install-dir PATH.', phase: 'usage', changed: false });
  if (opts.feedUrl && isGithubFeed(opts.feedUrl)) return applyFromGithub(opts);
  const archives = opts.archives ?? [];
  if ([opts.source, opts.feedUrl, archives.length > 0 ? archives : undefined].filter((x) => x !== undefined).length !== 1)
    throw errors.usageError({
      message: 'apply needs exactly one of a package path, --feed URL or archives with --checksums',
      hint: 'llm-upgrade apply ./pkg.tar.gz --install-dir DIR, or llm-upgrade apply A.tar.zst B.tar.zst --checksums sha256sum.txt',
      phase: 'usage',
      changed: false,
    });
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
  const paths = statePaths(root);
  const onEvent = opts.onEvent;
  const graceMs = opts.graceMs ?? DEFAULTS.stopGraceMs;
  const timeoutMs = opts.timeoutMs ?? DEFAULTS.timeoutMs;
  const healthTimeoutMs = opts.healthTimeoutMs ?? timeoutMs;
  const platform = opts.platform ?? platformKey();
  const keyText = opts.publicKey ?? opts.profile?.publicKey;
  const publicKey =
    keyText === undefined
      ? undefined
      : opts.publicKey !== undefined
        ? await loadPublicKey(keyText)
        : parsePublicKey(keyText, `profile ${opts.profile?.name}`);
  const dryRun = opts.dryRun === true;

  const lock = dryRun ? null : await acquireLock(root, 'apply');
  let changed = false;
  let phase: Phase = 'recover';
  try {
    let recovered: RecoverResult['action'] = 'nothing';
    if (lock) {
      onEvent?.({ type: 'phase', phase: 'recover' });
      const r = await recoverUnderLock({ roots, profile: opts.profile, graceMs, timeoutMs, healthTimeoutMs, onEvent });
      recovered = r.action;
      changed = r.changed;
    }
    const installed = await installedManifest(root);

    // ---- fetch
    phase = 'fetch';
    onEvent?.({ type: 'phase', phase: 'fetch' });
    let sourcePath: string;
    let feedVersion: string | undefined;
    if (archives.length > 0)
      return await applyForeign({
        opts,
        roots,
        root,
        units,
        installed,
        recovered,
        changedBefore: changed,
        platform,
        graceMs,
        timeoutMs,
        healthTimeoutMs,
        dryRun,
        setPhase: (p) => (phase = p),
        setChanged: () => (changed = true),
      });
    if (opts.feedUrl) {
      const fetchOpts = { timeoutMs, allowInsecureRedirect: opts.allowInsecureRedirect === true };
      const feed = await fetchFeed(opts.feedUrl, fetchOpts);
      const top = newestFor(feed, platform);
      if (!top)
        throw errors.fetchError({
          message: `${opts.feedUrl} has no release for ${platform}`,
          hint: 'Check the feed or pass --platform.',
          phase: 'fetch',
          changed: false,
        });
      feedVersion = top.version;
      const from = installed?.version ?? null;
      if (from && semver.eq(from, top.version)) {
        return noopResult(from, top.version, opts.feedUrl, root, recovered, changed);
      }
      if (from && semver.lt(top.version, from) && !opts.allowDowngrade) {
        throw resolveError(
          'ERR_DOWNGRADE',
          `the feed's newest ${platform} release ${top.version} is older than the installed ${from}`,
          'Pass --allow-downgrade to install an older version.',
          { from, to: top.version },
        );
      }
      if (dryRun) {
        sourcePath = '';
      } else {
        sourcePath = await download(top.asset, paths.downloads, onEvent, fetchOpts);
        changed = true;
      }
      if (dryRun) {
        return {
          ok: true,
          from,
          to: top.version,
          phase: 'plan',
          changed: false,
          stopped: [],
          downtimeMs: 0,
          filesInPlaceMs: 0,
          rolledBack: false,
          dryRun: true,
          restarted: null,
          healthy: null,
          files: 0,
          bytes: top.asset.size,
          signed: false,
          journalSteps: 0,
          recovered,
          source: top.asset.url,
          root,
          warnings: ['dry run with --feed: the package was not downloaded, so the file plan is not known'],
        };
      }
    } else sourcePath = resolve(opts.source!);

    // ---- verify (pass 1: nothing written)
    throwIfInterrupted(opts.signal, 'fetch', changed);
    phase = 'verify';
    onEvent?.({ type: 'phase', phase: 'verify' });
    const source = await openSource(sourcePath);
    const verified = await verifyPackage(source, { publicKey, platform, onProgress: (p) => onEvent?.({ type: 'verify', ...p }) });
    const manifest = verified.manifest;
    if (feedVersion && !semver.eq(feedVersion, manifest.version)) {
      throw errors.badPackageError({
        message: `${sourcePath}: the feed says ${feedVersion}, the package's manifest says ${manifest.version}`,
        hint: 'The feed and the package disagree; tell the publisher.',
        phase: 'verify',
        changed: false,
      });
    }

    refuseOutsideUnits(manifest, units, sourcePath);

    // ---- resolve versions
    if (installed && installed.name !== manifest.name && !opts.replaceProduct) {
      throw errors.badPackageError({
        message: `${sourcePath} is ${manifest.name} ${manifest.version}, but ${root} holds ${installed.name} ${installed.version}`,
        hint: 'Check the package; pass --replace-product to replace one product with another.',
        phase: 'resolve',
        changed,
        details: { installed: installed.name, package: manifest.name },
      });
    }
    // A dry run runs nothing from the package: only the installed product's own version command.
    const from =
      installed?.version ??
      (await versionOfInstall(root, dryRun ? opts.profile?.versionCommand : (manifest.smoke ?? opts.profile?.versionCommand)));
    if (!installed && !units) await refuseUnlistedEntries(root, manifest, opts.adopt === true);
    await refuseMissingUnits(root, units, manifest, sourcePath);
    if (from && semver.eq(from, manifest.version)) return noopResult(from, manifest.version, sourcePath, root, recovered, changed);
    if (from && semver.lt(manifest.version, from) && !opts.allowDowngrade) {
      throw resolveError(
        'ERR_DOWNGRADE',
        `${sourcePath} holds ${manifest.name} ${manifest.version}, older than the installed ${from}`,
        'Pass --allow-downgrade to install an older version.',
        { from, to: manifest.version },
      );
    }
    const files = manifest.files.length + (manifest.links?.length ?? 0);
    const bytes = manifest.files.reduce((n, f) => n + f.size, 0);
    if (dryRun) {
      const plan = await planChanges(root, units, manifest, roots, opts.profile);
      return {
        ok: true,
        from,
        to: manifest.version,
        phase: 'plan',
        changed: false,
        stopped: [],
        downtimeMs: 0,
        filesInPlaceMs: 0,
        rolledBack: false,
        dryRun: true,
        plan,
        restarted: null,
        healthy: null,
        files,
        bytes,
        signed: verified.signed,
        journalSteps: 0,
        recovered,
        source: sourcePath,
        root,
        warnings: [],
      };
    }

    // ---- stage (pass 2, same file system as the root)
    throwIfInterrupted(opts.signal, 'verify', changed);
    phase = 'stage';
    onEvent?.({ type: 'phase', phase: 'stage' });
    await stagePackage(source, manifest, paths.staging, (p) => onEvent?.({ type: 'stage', ...p }));
    await applyModesAndOwners(root, paths.staging, manifest);
    throwIfInterrupted(opts.signal, 'stage', true);
    const identities = new Map<string, FileIdentity>();
    for (const f of manifest.files) identities.set(f.path, await identityOfFile(join(paths.staging, ...f.path.split('/'))));
    if (opts.feedUrl) await removeTree(paths.downloads);

    // ---- stop → swap → check → restart → health → commit
    const tx = await runTransaction({
      kind: 'apply',
      roots,
      profile: opts.profile,
      stageDir: paths.staging,
      from,
      to: manifest.version,
      fromManifest: installed,
      toManifest: manifest,
      stagedIdentities: identities,
      restart: opts.restart !== false,
      graceMs,
      timeoutMs,
      healthTimeoutMs,
      stayUpMs: opts.stayUpMs,
      onEvent,
      signal: opts.signal,
    }).catch(async (e: unknown) => {
      // Staging holds the new version's files a kept journal may still move back: it goes only with the journal.
      if (!(await lexists(paths.journal).catch(() => true))) await removeTree(paths.staging).catch(() => undefined);
      throw e;
    });
    return {
      ok: true,
      from,
      to: manifest.version,
      phase: 'commit',
      changed: true,
      stopped: tx.stopped,
      downtimeMs: tx.downtimeMs,
      filesInPlaceMs: tx.filesInPlaceMs,
      rolledBack: false,
      restarted: tx.restarted,
      healthy: tx.healthy,
      files,
      bytes,
      signed: verified.signed,
      journalSteps: tx.journalSteps,
      recovered,
      source: opts.feedUrl ?? sourcePath,
      root,
      warnings: tx.warnings,
    };
  } catch (e) {
    // Keep a partial download for the next run to resume; a complete one that then failed
    // (verify, stage) is not trusted again, so it goes; drop an empty downloads directory.
    for (const f of await walk(paths.downloads).catch(() => []))
      if (f.kind === 'file' && !f.path.endsWith('.part')) await removeTree(join(paths.downloads, f.path)).catch(() => undefined);
    if ((await walk(paths.downloads).catch(() => [])).length === 0) await removeTree(paths.downloads).catch(() => undefined);
    // Staged but not yet handed to the transaction (a full disk or an interrupt while staging).
    if (!(await lexists(paths.journal).catch(() => true))) await removeTree(paths.staging).catch(() => undefined);
    throw toLlmUpgradeError(e, phase, changed);
  } finally {
    await lock?.release();
  }
}

interface ForeignContext {
  opts: ApplyOptions;
  roots: string[];
  root: string;
  units: string[] | null;
  installed: Manifest | null;
  recovered: RecoverResult['action'];
  changedBefore: boolean;
  platform: string;
  graceMs: number;
  timeoutMs: number;
  healthTimeoutMs: number;
  dryRun: boolean;
  setPhase: (p: Phase) => void;
  setChanged: () => void;
}

/** The product an archive belongs to, from its asset name: `ollama-linux-amd64.tar.zst` → `ollama`. */
function productOf(archiveFile: string): string {
  return archiveFile.split(/[-_.]/)[0] || archiveFile;
}

/**
 * apply of archives without a manifest: fetch → verify+stage (one pass per archive, hashed while
 * read) → version (given, or the staged binary's) → the same resolve, transaction and commit as
 * our packages, with the manifest derived from what was verified. Runs under apply's lock.
 */
async function applyForeign(c: ForeignContext): Promise<ApplyResult> {
  const { opts, roots, root, units, installed } = c;
  const paths = statePaths(root);
  const onEvent = opts.onEvent;
  const archives = opts.archives!;
  const label = archives.map((a) => archiveName(a)).join(' + ');
  c.setPhase('fetch');
  const fetchOpts = { timeoutMs: c.timeoutMs, allowInsecureRedirect: opts.allowInsecureRedirect === true };
  if (archives.some((a) => /^https?:\/\//i.test(a))) c.setChanged();
  const resolved = await resolveForeignArchives({
    archives,
    checksums: opts.checksums,
    sha256ByName: opts.sha256ByName,
    downloads: paths.downloads,
    fetch: fetchOpts,
    onEvent,
  });

  throwIfInterrupted(opts.signal, 'fetch', c.changedBefore);
  c.setPhase('verify');
  onEvent?.({ type: 'phase', phase: 'verify', detail: label });
  // A dry run writes nothing into the install: it verifies into a temporary directory.
  const staging = c.dryRun ? await mkdtemp(join(tmpdir(), 'llm-upgrade-dry-run-')) : paths.staging;
  try {
    const tree = await stageForeignArchives(resolved, staging, {
      units,
      onProgress: (p) => onEvent?.({ type: 'verify', bytes: p.readBytes, entries: p.files }),
    });
    if (!c.dryRun) c.setChanged();
    const version = await versionOfStaged(staging, opts.version, opts.profile?.versionCommand, Math.min(c.timeoutMs, 15_000));
    const manifest: Manifest = {
      name: productOf(resolved[0]!.name),
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

    c.setPhase('resolve');
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
    const files = manifest.files.length + (manifest.links?.length ?? 0);
    if (from && semver.eq(from, version)) return noopResult(from, version, label, root, c.recovered, c.changedBefore);
    if (from && semver.lt(version, from) && !opts.allowDowngrade) {
      throw resolveError(
        'ERR_DOWNGRADE',
        `${label} hold ${manifest.name} ${version}, older than the installed ${from}`,
        'Pass --allow-downgrade to install an older version.',
        { from, to: version },
      );
    }
    if (c.dryRun) {
      const plan = await planChanges(root, units, manifest, roots, opts.profile);
      return {
        ok: true,
        from,
        to: version,
        phase: 'plan',
        changed: false,
        stopped: [],
        downtimeMs: 0,
        filesInPlaceMs: 0,
        rolledBack: false,
        dryRun: true,
        plan,
        restarted: null,
        healthy: null,
        files,
        bytes: tree.bytes,
        signed: false,
        journalSteps: 0,
        recovered: c.recovered,
        source: label,
        root,
        warnings: [],
      };
    }

    c.setPhase('stage');
    onEvent?.({ type: 'phase', phase: 'stage' });
    await applyModesAndOwners(root, staging, manifest);
    throwIfInterrupted(opts.signal, 'stage', true);
    const identities = new Map<string, FileIdentity>();
    for (const f of manifest.files) identities.set(f.path, await identityOfFile(join(staging, ...f.path.split('/'))));
    await removeTree(paths.downloads);

    const tx = await runTransaction({
      kind: 'apply',
      roots,
      profile: opts.profile,
      stageDir: staging,
      from,
      to: version,
      fromManifest: installed,
      toManifest: manifest,
      stagedIdentities: identities,
      restart: opts.restart !== false,
      graceMs: c.graceMs,
      timeoutMs: c.timeoutMs,
      healthTimeoutMs: c.healthTimeoutMs,
      stayUpMs: opts.stayUpMs,
      onEvent,
      signal: opts.signal,
    });
    return {
      ok: true,
      from,
      to: version,
      phase: 'commit',
      changed: true,
      stopped: tx.stopped,
      downtimeMs: tx.downtimeMs,
      filesInPlaceMs: tx.filesInPlaceMs,
      rolledBack: false,
      restarted: tx.restarted,
      healthy: tx.healthy,
      files,
      bytes: tree.bytes,
      signed: false,
      journalSteps: tx.journalSteps,
      recovered: c.recovered,
      source: label,
      root,
      warnings: tx.warnings,
    };
  } finally {
    // Not (or no longer) in a transaction's hands: a dry run, a no-op, a failure before the swap.
    // A kept journal may still move files back from staging: then it stays for recover.
    if (c.dryRun || !(await lexists(paths.journal).catch(() => true))) await removeTree(staging).catch(() => undefined);
  }
}

function noopResult(
  from: string,
  to: string,
  source: string,
  root: string,
  recovered: RecoverResult['action'],
  changed: boolean,
): ApplyResult {
  return {
    ok: true,
    from,
    to,
    phase: 'resolve',
    changed,
    noop: true,
    stopped: [],
    downtimeMs: 0,
    filesInPlaceMs: 0,
    rolledBack: false,
    restarted: null,
    healthy: null,
    files: 0,
    bytes: 0,
    signed: false,
    journalSteps: 0,
    recovered,
    source,
    root,
    warnings: [`${to} is already installed; nothing to do`],
  };
}

/**
 * `--feed github:OWNER/REPO[@TAG]`: the release's assets for this install (base + the add-ons it
 * has) become foreign archives (URLs, downloaded resumably under the lock) with the digests the
 * release vouches for and the tag's version. Same version or a refused downgrade: decided
 * before anything is downloaded.
 */
async function applyFromGithub(opts: ApplyOptions): Promise<ApplyResult> {
  const roots = opts.roots.map((r) => resolve(r));
  const { base: root } = installLayout(roots);
  const platform = opts.platform ?? platformKey();
  const timeoutMs = opts.timeoutMs ?? DEFAULTS.timeoutMs;
  const gh = await githubArchivesSource({
    feed: opts.feedUrl!,
    roots,
    profile: opts.profile,
    platform,
    ...(opts.github ?? {}),
    timeoutMs,
    ...(opts.allowInsecureRedirect ? { allowInsecureRedirect: true } : {}),
  });
  const installed = await installedManifest(root);
  const from = installed?.version ?? (await versionOfInstall(root, opts.profile?.versionCommand));
  if (from && semver.eq(from, gh.version)) return noopResult(from, gh.version, gh.label, root, 'nothing', false);
  if (from && semver.lt(gh.version, from) && !opts.allowDowngrade) {
    throw resolveError(
      'ERR_DOWNGRADE',
      `${gh.label} is ${gh.version}, older than the installed ${from}`,
      'Pass --allow-downgrade to install an older version.',
      { from, to: gh.version },
    );
  }
  if (opts.dryRun) {
    const bytes = gh.resolved.archives.reduce((n, a) => n + a.size, 0);
    return {
      ok: true,
      from,
      to: gh.version,
      phase: 'plan',
      changed: false,
      stopped: [],
      downtimeMs: 0,
      filesInPlaceMs: 0,
      rolledBack: false,
      dryRun: true,
      restarted: null,
      healthy: null,
      files: 0,
      bytes,
      signed: false,
      journalSteps: 0,
      recovered: 'nothing',
      source: gh.label,
      root,
      warnings: [
        `dry run with --feed ${gh.resolved.feed}: ${gh.resolved.archives.map((a) => a.fileName).join(' + ')} not downloaded, so the file plan is not known`,
      ],
    };
  }
  const { feedUrl: _feed, github: _github, ...rest } = opts;
  const result = await apply({ ...rest, archives: gh.archives, sha256ByName: gh.sha256ByName, version: gh.version });
  return { ...result, source: gh.label };
}
