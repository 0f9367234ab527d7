import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errors, throwIfInterrupted } from '@llm-upgrade/core';
import { resolveForeignArchives } from '../foreign/resolve.js';
import { archiveName, stageForeignArchives } from '../foreign/stage-archives.js';
import { versionOfStaged } from '../foreign/staged-version.js';
import { removeTree } from '../fsutil.js';
import type { Manifest } from '../manifest.js';
import { statePaths } from '../paths.js';
import { type FileIdentity, identityOfFile, versionOfInstall } from '../transaction/checks.js';
import { applyModesAndOwners } from '../transaction/modes.js';
import { stagedOnDisk } from '../transaction/swap.js';
import { type Context, noopPlan, type Outcome } from './context.js';
import { refuseMissingUnits, refuseOtherProduct, refuseUnlistedEntries } from './refuse.js';
import { checkVersions } from './versions.js';

/**
 * Archives without a manifest: fetch → verify+stage (one pass per archive, hashed while read) →
 * version (given, or the staged binary's) → the same resolve as our packages, with the manifest
 * derived from what was verified. A dry run stages into a directory of its own and removes it.
 */
export async function resolveForeign(
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
    refuseOtherProduct(installed, manifest, { label, root, given: 'archives', replaceProduct: opts.replaceProduct, changed: false });
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

/** The product an archive belongs to, from its asset name: `ollama-linux-amd64.tar.zst` → `ollama`. */
function productOf(archiveFile: string): string {
  return archiveFile.split(/[-_.]/)[0] || archiveFile;
}
