import semver from 'semver';
import { stop, toLlmUpgradeError } from '@llm-upgrade/core';
import { removeTree } from '../fsutil.js';
import { githubArchivesSource } from '../github/source.js';
import { isGithubFeed } from '../github/spec.js';
import type { Manifest } from '../manifest.js';
import { versionOfInstall } from '../transaction/checks.js';
import { acquireLock } from '../transaction/lock.js';
import { recoverUnderLock } from '../transaction/recover.js';
import { planMoves } from '../transaction/swap.js';
import { listedPaths, ownedNames } from '../transaction/transaction.js';
import { changesOf, journalSpace } from './changes.js';
import { checkOptions, type Context, contextFor, emptyPlan, noopPlan, type Resolved } from './context.js';
import { installedManifest, pathsOf } from './manifests.js';
import { relaunchStep } from './relaunch.js';
import { resolveForeign } from './resolve-foreign.js';
import { resolvePackage } from './resolve-package.js';
import { cleanUpUnexecuted, keepPlanState, stateOf } from './state.js';
import type { ApplyOptions, ApplyPlan } from './types.js';
import { checkVersions } from './versions.js';

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
    if (!c.dryRun) keepPlanState(plan, stateOf(c, installed, resolved.manifest, resolved.stageDir, resolved.identities));
    return plan;
  } catch (e) {
    if (resolved?.scratch) await removeTree(resolved.scratch).catch(() => undefined);
    if (!c.dryRun) await cleanUpUnexecuted(c.root, resolved?.stageDir ?? null);
    await c.lock?.release();
    throw toLlmUpgradeError(e, phase, c.changed);
  }
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
