import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type LlmUpgradeError, type ReleaseAssets, errors } from '@llm-upgrade/core';

/** One asset of a GitHub release, as the API lists it. */
export interface ReleaseAsset {
  name: string;
  size: number;
  url: string;
  /** From the API's `digest` (`sha256:<hex>`), when it has one. */
  sha256: string | null;
}

export interface PickedAssets {
  base: ReleaseAsset;
  /** Add-ons the install already has, in the profile's order (laid on after the base). */
  addons: ReleaseAsset[];
  /** What was looked for, for messages. */
  lookedFor: string[];
}

function segmentRegex(segment: string): RegExp {
  return new RegExp(
    `^${segment
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('[^/]*')}$`,
  );
}

/** Whether `pattern` (`lib/ollama/rocm*`, `*` within one segment) names an existing path under `prefix`. */
export async function matchesUnder(prefix: string, pattern: string): Promise<boolean> {
  const segments = pattern.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.some((s) => s === '..')) return false;
  let dirs = [prefix];
  for (const segment of segments) {
    const next: string[] = [];
    for (const dir of dirs) {
      if (!segment.includes('*')) {
        const p = join(dir, segment);
        if (await stat(p).catch(() => null)) next.push(p);
        continue;
      }
      const re = segmentRegex(segment);
      for (const name of await readdir(dir).catch(() => [] as string[])) if (re.test(name)) next.push(join(dir, name));
    }
    if (next.length === 0) return false;
    dirs = next;
  }
  return dirs.length > 0;
}

function firstPresent(assets: readonly ReleaseAsset[], names: readonly string[]): ReleaseAsset | undefined {
  for (const n of names) {
    const a = assets.find((x) => x.name === n);
    if (a) return a;
  }
  return undefined;
}

function noAsset(
  release: string,
  what: string,
  lookedFor: readonly string[],
  assets: readonly ReleaseAsset[],
  details: Record<string, unknown>,
): LlmUpgradeError {
  const present = assets.map((a) => a.name);
  return errors.fetchError({
    message: `${release} has no ${what}: looked for ${lookedFor.join(', ')}; it has ${present.length ? present.join(', ') : 'no assets'}`,
    hint: 'Pick a release that ships this platform (github:OWNER/REPO@TAG), pass --platform, or give the asset names in the profile\'s "releaseAssets".',
    phase: 'fetch',
    changed: false,
    details: { ...details, lookedFor: [...lookedFor], assets: present },
  });
}

/** The base archive for `platform` plus each add-on whose marker path the install (at `prefix`; null: none found) already has. */
export async function pickAssets(
  release: string,
  assets: readonly ReleaseAsset[],
  spec: ReleaseAssets | undefined,
  platform: string,
  prefix: string | null,
): Promise<PickedAssets> {
  const forPlatform = spec?.platforms[platform];
  if (!forPlatform) {
    throw errors.usageError({
      message: `the profile names no release assets for ${platform}`,
      hint: 'Use --profile ollama, or add "releaseAssets" for this platform to your profile.',
      phase: 'fetch',
      changed: false,
      details: { platform },
    });
  }
  const base = firstPresent(assets, forPlatform.base);
  if (!base) throw noAsset(release, `archive for ${platform}`, forPlatform.base, assets, { platform });
  const addons: ReleaseAsset[] = [];
  const lookedFor = [...forPlatform.base];
  for (const addon of forPlatform.addons ?? []) {
    if (prefix === null || !(await matchesUnder(prefix, addon.when))) continue;
    lookedFor.push(...addon.assets);
    const found = firstPresent(assets, addon.assets);
    // The install has it: upgrading without it would drop what the user installed.
    if (!found)
      throw noAsset(release, `add-on for ${addon.when} (present in ${prefix})`, addon.assets, assets, { platform, addon: addon.when });
    addons.push(found);
  }
  return { base, addons, lookedFor };
}
