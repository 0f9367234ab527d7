import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { errors } from '@llm-upgrade/core';
import { lexists } from '../fsutil.js';
import { STATE_DIR } from '../installed.js';
import { placeInUnits } from '../layout.js';
import { type Manifest, unsafeEntryError } from '../manifest.js';
import { pathsOf } from './manifests.js';

/**
 * An install root we did not install ourselves may be a shared directory given by mistake
 * (`--install-dir /usr/local/bin`): its entries that the package does not list would all be
 * moved aside. Refuse before anything is written unless the caller adopts the root.
 */
export async function refuseUnlistedEntries(root: string, manifest: Manifest, adopt: boolean): Promise<void> {
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
export function refuseOutsideUnits(manifest: Manifest, units: readonly string[] | null, where: string): void {
  if (!units) return;
  for (const p of pathsOf(manifest)) {
    if (placeInUnits(p, units) !== 'inside') throw unsafeEntryError(p, `${where}: lies outside the install's roots (${units.join(', ')})`);
  }
}

/** A prefix layout's roots that exist now must all come with the new version: an add-on alone would remove bin/ollama. */
export async function refuseMissingUnits(root: string, units: readonly string[] | null, manifest: Manifest, where: string): Promise<void> {
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

/** A new version of another product (its manifest's name differs from the installed one's) needs --replace-product. */
export function refuseOtherProduct(
  installed: Manifest | null,
  manifest: Manifest,
  where: { label: string; root: string; given: 'package' | 'archives'; replaceProduct: boolean | undefined; changed: boolean },
): void {
  if (!installed || installed.name === manifest.name || where.replaceProduct) return;
  throw errors.badPackageError({
    message: `${where.label} is ${manifest.name} ${manifest.version}, but ${where.root} holds ${installed.name} ${installed.version}`,
    hint: `Check the ${where.given}; pass --replace-product to replace one product with another.`,
    phase: 'resolve',
    changed: where.changed,
    details: { installed: installed.name, package: manifest.name },
  });
}
