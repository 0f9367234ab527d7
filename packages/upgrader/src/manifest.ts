import semver from 'semver';
import { type LlmUpgradeError, errors, type ErrorDetails } from '@llm-upgrade/core';
import { collisionKey, MANIFEST_NAME, SIGNATURE_NAME, unsafeLinkReason, unsafePathReason } from './paths.js';

export interface ManifestFile {
  /** POSIX path relative to the install root. */
  path: string;
  size: number;
  /** Lower-case hex SHA-256 of the content. */
  sha256: string;
  /** Permission bits (0o755...); anything above 0o777 is ignored. */
  mode: number;
}

export interface ManifestLink {
  path: string;
  /** Relative link target; must stay inside the root. */
  link: string;
}

/** `llm-upgrade.json` at the package root. */
export interface Manifest {
  name: string;
  version: string;
  platform?: string;
  files: ManifestFile[];
  links?: ManifestLink[];
  /** argv relative to the root (argv[0]) that prints the version, e.g. ["bin/ollama", "--version"]. */
  smoke?: string[];
}

export const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

function bad(message: string, details?: ErrorDetails<'ERR_BAD_PACKAGE'>): LlmUpgradeError {
  return errors.badPackageError({
    message,
    hint: 'Rebuild the package with `llm-upgrade pack` or ask its publisher for a valid one.',
    phase: 'verify',
    changed: false,
    ...(details ? { details } : {}),
  });
}

export function unsafeEntryError(path: string, reason: string): LlmUpgradeError {
  return errors.unsafeEntryError({
    message: `unsafe entry "${path}": ${reason}`,
    hint: 'The package is refused as a whole and nothing was written; do not install it.',
    phase: 'verify',
    changed: false,
    details: { entry: path, reason },
  });
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parse and validate `llm-upgrade.json`; every path is checked for safety here, once. */
export function parseManifest(bytes: Buffer | string, where: string): Manifest {
  let doc: unknown;
  try {
    doc = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  } catch (e) {
    throw bad(`${where}: ${MANIFEST_NAME} is not valid JSON (${(e as Error).message})`);
  }
  if (!isObj(doc)) throw bad(`${where}: ${MANIFEST_NAME} is not a JSON object`);
  const { name, version, platform, files, links, smoke } = doc;
  if (typeof name !== 'string' || name.length === 0) throw bad(`${where}: ${MANIFEST_NAME} lacks "name"`);
  if (typeof version !== 'string') throw bad(`${where}: ${MANIFEST_NAME} lacks "version"`);
  if (semver.valid(version) === null) {
    throw errors.notSemverError({
      message: `${where}: version "${version}" is not a semantic version (x.y.z)`,
      hint: 'Package versions must be semver, e.g. 0.12.3.',
      phase: 'verify',
      changed: false,
      details: { version },
    });
  }
  if (platform !== undefined && typeof platform !== 'string') throw bad(`${where}: "platform" must be a string`);
  if (!Array.isArray(files)) throw bad(`${where}: ${MANIFEST_NAME} lacks the "files" array`);
  if (links !== undefined && !Array.isArray(links)) throw bad(`${where}: "links" must be an array`);
  if (smoke !== undefined && (!Array.isArray(smoke) || smoke.length === 0 || !smoke.every((s) => typeof s === 'string'))) {
    throw bad(`${where}: "smoke" must be a non-empty array of strings`);
  }
  const seen = new Map<string, string>();
  const claim = (path: string) => {
    const reason = unsafePathReason(path);
    if (reason) throw unsafeEntryError(path, reason);
    if (path === MANIFEST_NAME || path === SIGNATURE_NAME) throw bad(`${where}: the manifest lists its own metadata file "${path}"`);
    const key = collisionKey(path);
    const prior = seen.get(key);
    if (prior !== undefined) throw unsafeEntryError(path, `listed twice in the manifest (also as "${prior}")`);
    seen.set(key, path);
  };
  const outFiles: ManifestFile[] = files.map((f, i) => {
    if (!isObj(f)) throw bad(`${where}: files[${i}] is not an object`);
    const { path, size, sha256, mode } = f;
    if (typeof path !== 'string') throw bad(`${where}: files[${i}] lacks "path"`);
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
      throw bad(`${where}: files[${i}] (${path}) has no valid "size"`);
    if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) throw bad(`${where}: files[${i}] (${path}) has no valid "sha256"`);
    if (typeof mode !== 'number' || !Number.isInteger(mode) || mode < 0 || mode > 0o7777)
      throw bad(`${where}: files[${i}] (${path}) has no valid "mode"`);
    claim(path);
    return { path, size, sha256, mode };
  });
  const outLinks: ManifestLink[] = (links ?? []).map((l, i) => {
    if (!isObj(l) || typeof l.path !== 'string' || typeof l.link !== 'string') throw bad(`${where}: links[${i}] needs "path" and "link"`);
    claim(l.path);
    const reason = unsafeLinkReason(l.path, l.link);
    if (reason) throw unsafeEntryError(l.path, reason);
    return { path: l.path, link: l.link };
  });
  // Nothing may live under a link or a file: writing through a link could leave the root.
  const all = new Set([...outFiles.map((f) => f.path), ...outLinks.map((l) => l.path)]);
  for (const p of all) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      if (all.has(parent)) throw unsafeEntryError(p, `its parent "${parent}" is a file or link in the same package`);
    }
  }
  // The smoke command runs after the swap: it must be one of the package's own files, by a
  // relative path, so nothing outside the root (nor anything not verified) is ever run.
  if (smoke !== undefined) {
    const argv0 = (smoke as string[])[0]!;
    const reason = unsafePathReason(argv0);
    if (reason) throw unsafeEntryError(argv0, `the smoke command ${reason}`);
    if (!outFiles.some((f) => f.path === argv0) && !outLinks.some((l) => l.path === argv0))
      throw bad(`${where}: the smoke command "${argv0}" is not a file of the package (it must be a relative path to one of its files)`);
  }
  return {
    name,
    version,
    ...(platform !== undefined ? { platform } : {}),
    files: outFiles,
    ...(outLinks.length ? { links: outLinks } : {}),
    ...(smoke !== undefined ? { smoke: smoke as string[] } : {}),
  };
}

export function serializeManifest(m: Manifest): string {
  return `${JSON.stringify(m, null, 2)}\n`;
}

export function manifestBytes(m: Manifest): number {
  return m.files.reduce((n, f) => n + f.size, 0);
}
