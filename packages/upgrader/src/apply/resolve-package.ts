import { join, resolve } from 'node:path';
import semver from 'semver';
import { errors, throwIfInterrupted } from '@llm-upgrade/core';
import { download, fetchFeed, newestFor } from '../feed.js';
import { removeTree } from '../fsutil.js';
import type { Manifest } from '../manifest.js';
import { statePaths } from '../paths.js';
import { loadPublicKey, parsePublicKey } from '../signature.js';
import { openSource } from '../source/open.js';
import { stagePackage } from '../source/stage.js';
import { verifyPackage } from '../source/verify.js';
import { type FileIdentity, identityOfFile, versionOfInstall } from '../transaction/checks.js';
import { applyModesAndOwners } from '../transaction/modes.js';
import { stagedFromPaths, stagedOnDisk } from '../transaction/swap.js';
import { type Context, emptyPlan, noopPlan, type Outcome } from './context.js';
import { pathsOf } from './manifests.js';
import { refuseMissingUnits, refuseOtherProduct, refuseOutsideUnits, refuseUnlistedEntries } from './refuse.js';
import { checkVersions } from './versions.js';

/** Our own package (a file, a directory, or the newest on a feed): verify, resolve, then stage. */
export async function resolvePackage(
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
  refuseOtherProduct(installed, manifest, {
    label: sourcePath,
    root,
    given: 'package',
    replaceProduct: opts.replaceProduct,
    changed: c.changed,
  });
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
