import * as errors from './error-factories.js';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, posix, resolve, win32 } from 'node:path';
import type { LlmUpgradeError } from './errors.js';
import type { Profile, ReleaseAssets } from './types.js';

// Names as Ollama's release workflow publishes them; `.tgz` is what releases before 0.12 shipped.
const linuxAssets = (arch: 'amd64' | 'arm64', addons: string[]): ReleaseAssets['platforms'][string] => ({
  base: [`ollama-linux-${arch}.tar.zst`, `ollama-linux-${arch}.tgz`],
  addons: addons.map((name) => ({
    when: ollamaAddonMarkers[name]!,
    assets: [`ollama-linux-${arch}-${name}.tar.zst`, `ollama-linux-${arch}-${name}.tgz`],
  })),
});

/** The path under the install prefix that shows an add-on archive was laid onto it. */
const ollamaAddonMarkers: Record<string, string> = {
  rocm: 'lib/ollama/rocm*',
  jetpack5: 'lib/ollama/cuda_jetpack5',
  jetpack6: 'lib/ollama/cuda_jetpack6',
  mlx: 'lib/ollama/mlx*',
};

export const ollamaReleaseAssets: ReleaseAssets = {
  checksums: 'sha256sum.txt',
  platforms: {
    'linux-x64': linuxAssets('amd64', ['rocm', 'mlx']),
    'linux-arm64': linuxAssets('arm64', ['jetpack5', 'jetpack6']),
    'win32-x64': { base: ['ollama-windows-amd64.zip'] },
    'win32-arm64': { base: ['ollama-windows-arm64.zip'] },
    'darwin-arm64': { base: ['Ollama-darwin.zip'] },
    'darwin-x64': { base: ['Ollama-darwin.zip'] },
  },
};

/** Built-in profile for Ollama, every runner generation included. */
export const ollamaProfile: Profile = {
  name: 'ollama',
  roots: {
    win32: ['%LOCALAPPDATA%\\Programs\\Ollama'],
    darwin: ['/Applications/Ollama.app'],
  },
  // Not the whole directory of `ollama` (often /usr/local/bin, shared with every other tool):
  // the binary itself and its runner libraries.
  pathRoots: { binary: 'ollama', relative: ['../lib/ollama'] },
  services: { systemd: ['ollama'], windows: [], launchd: ['com.ollama.ollama'] },
  processes: {
    supervisor: ['ollama app', 'Ollama'],
    server: ['ollama'],
    engine: ['llama-server', 'ollama_llama_server', 'ollama runner', 'llama-quantize'],
  },
  versionCommand: ['bin/ollama', '--version'],
  healthUrl: 'http://127.0.0.1:11434/api/version',
  startCommand: ['bin/ollama', 'serve'],
  releaseAssets: ollamaReleaseAssets,
};

export const builtinProfiles: Readonly<Record<string, Profile>> = { ollama: ollamaProfile };

function usageError(message: string, hint: string): LlmUpgradeError {
  return errors.usageError({ message, hint, phase: 'usage', changed: false });
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string' && x.length > 0);
}

/** Validates a parsed profile document; every complaint names the file and the field. */
export function validateProfile(doc: unknown, source: string): Profile {
  const fail = (field: string, want: string) =>
    usageError(
      `profile ${source}: "${field}" ${want}`,
      'Fix the profile JSON (see packages/core/README.md, "Profiles") or use --profile ollama.',
    );
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw fail('(top level)', 'must be a JSON object');
  const d = doc as Record<string, unknown>;
  if (typeof d.name !== 'string' || d.name.trim() === '') throw fail('name', 'must be a non-empty string');
  const roots: Profile['roots'] = {};
  if (d.roots !== undefined) {
    if (typeof d.roots !== 'object' || d.roots === null || Array.isArray(d.roots))
      throw fail('roots', 'must be an object keyed by linux, win32, darwin');
    for (const [os, list] of Object.entries(d.roots)) {
      if (os !== 'linux' && os !== 'win32' && os !== 'darwin') throw fail(`roots.${os}`, 'is not an OS (linux, win32, darwin)');
      if (!isStringArray(list)) throw fail(`roots.${os}`, 'must be an array of paths');
      roots[os] = list;
    }
  }
  if (typeof d.processes !== 'object' || d.processes === null || Array.isArray(d.processes))
    throw fail('processes', 'must be an object with supervisor, server and engine name lists');
  const procs = d.processes as Record<string, unknown>;
  const processes: Profile['processes'] = { supervisor: [], server: [], engine: [] };
  for (const role of ['supervisor', 'server', 'engine'] as const) {
    const list = procs[role] ?? [];
    if (!isStringArray(list)) throw fail(`processes.${role}`, 'must be an array of process names');
    processes[role] = list;
  }
  for (const key of Object.keys(procs))
    if (!(key in processes)) throw fail(`processes.${key}`, 'is not a role (supervisor, server, engine)');
  const profile: Profile = { name: d.name, roots, processes };
  if (d.pathRoots !== undefined) {
    const pr = d.pathRoots as Record<string, unknown>;
    if (typeof pr !== 'object' || pr === null || typeof pr.binary !== 'string' || !isStringArray(pr.relative ?? []))
      throw fail('pathRoots', 'must be { "binary": NAME, "relative": [PATH...] }');
    profile.pathRoots = { binary: pr.binary, relative: (pr.relative as string[] | undefined) ?? [] };
  }
  if (d.services !== undefined) {
    if (typeof d.services !== 'object' || d.services === null || Array.isArray(d.services))
      throw fail('services', 'must be an object with systemd, windows, launchd name lists');
    const services: NonNullable<Profile['services']> = {};
    for (const [mgr, list] of Object.entries(d.services)) {
      if (mgr !== 'systemd' && mgr !== 'windows' && mgr !== 'launchd')
        throw fail(`services.${mgr}`, 'is not a service manager (systemd, windows, launchd)');
      if (!isStringArray(list)) throw fail(`services.${mgr}`, 'must be an array of service names');
      services[mgr] = list;
    }
    profile.services = services;
  }
  for (const key of ['versionCommand', 'startCommand'] as const) {
    if (d[key] === undefined) continue;
    const v = d[key];
    if (!isStringArray(v) || v.length === 0) throw fail(key, 'must be a non-empty array of strings (argv)');
    profile[key] = v;
  }
  if (d.healthUrl !== undefined) {
    if (typeof d.healthUrl !== 'string' || !URL.canParse(d.healthUrl) || !/^https?:$/.test(new URL(d.healthUrl).protocol))
      throw fail('healthUrl', 'must be an http(s) URL');
    profile.healthUrl = d.healthUrl;
  }
  if (d.publicKey !== undefined) {
    if (typeof d.publicKey !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(d.publicKey))
      throw fail('publicKey', 'must be base64 (raw Ed25519 key or SPKI DER)');
    profile.publicKey = d.publicKey;
  }
  if (d.releaseAssets !== undefined) profile.releaseAssets = validateReleaseAssets(d.releaseAssets, fail);
  return profile;
}

function validateReleaseAssets(v: unknown, fail: (field: string, want: string) => LlmUpgradeError): ReleaseAssets {
  const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (!isObject(v) || !isObject(v.platforms))
    throw fail('releaseAssets', 'must be { "platforms": { PLATFORM: { "base": [NAME...], "addons"?: [...] } } }');
  const out: ReleaseAssets = { platforms: {} };
  if (v.checksums !== undefined) {
    if (typeof v.checksums !== 'string' || v.checksums === '') throw fail('releaseAssets.checksums', 'must be an asset name');
    out.checksums = v.checksums;
  }
  for (const [key, p] of Object.entries(v.platforms)) {
    const field = `releaseAssets.platforms.${key}`;
    if (!isObject(p) || !isStringArray(p.base) || p.base.length === 0)
      throw fail(`${field}.base`, 'must be a non-empty array of asset names');
    const addons = p.addons ?? [];
    if (!Array.isArray(addons)) throw fail(`${field}.addons`, 'must be an array of { "when": PATTERN, "assets": [NAME...] }');
    out.platforms[key] = {
      base: p.base,
      addons: addons.map((a: unknown, i) => {
        if (!isObject(a) || typeof a.when !== 'string' || a.when === '' || !isStringArray(a.assets) || a.assets.length === 0)
          throw fail(`${field}.addons[${i}]`, 'must be { "when": PATTERN, "assets": [NAME...] }');
        return { when: a.when, assets: a.assets };
      }),
    };
  }
  return out;
}

/** Reads and validates a profile JSON file; errors are ERR_USAGE naming the file and field. */
export function loadProfile(file: string): Profile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw usageError(
      `profile ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)})`,
      'Pass --profile ollama or the path of a readable profile JSON file.',
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw usageError(`profile ${file}: not valid JSON (${(e as Error).message})`, 'Fix the JSON syntax of the profile file.');
  }
  return validateProfile(doc, file);
}

/** A built-in profile by name, or a profile JSON file by path. */
export function resolveProfile(nameOrFile: string): Profile {
  const builtin = builtinProfiles[nameOrFile];
  if (builtin) return builtin;
  if (existsSync(nameOrFile)) return loadProfile(nameOrFile);
  throw usageError(
    `profile "${nameOrFile}" is neither a built-in profile (${Object.keys(builtinProfiles).join(', ')}) nor a file`,
    'Use --profile ollama, or the path of a profile JSON file.',
  );
}

/** Expands `~`, `%VAR%`, `$VAR` and `${VAR}`; returns null when a variable is unset (the root does not apply). */
export function expandPath(p: string, env: NodeJS.ProcessEnv): string | null {
  let missing = false;
  const get = (name: string) => {
    const v = env[name] ?? Object.entries(env).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];
    if (v === undefined || v === '') missing = true;
    return v ?? '';
  };
  let out = p
    .replace(/%([^%]+)%/g, (_, n: string) => get(n))
    .replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a?: string, b?: string) => get(a ?? b ?? ''));
  if (out === '~' || out.startsWith('~/') || out.startsWith('~\\')) out = get('HOME') + out.slice(1);
  return missing ? null : out;
}

export type Which = (binary: string) => string | null;

/** Finds a binary on PATH (POSIX), resolving symlinks: the default `which` for defaultRoots. */
export function whichOnPath(binary: string, env: NodeJS.ProcessEnv = process.env): string | null {
  for (const dir of (env.PATH ?? '').split(':')) {
    if (!dir) continue;
    const candidate = posix.join(dir, binary);
    try {
      if (existsSync(candidate)) return realpathSync(candidate);
    } catch {
      // unreadable PATH entry: try the next one
    }
  }
  return null;
}

/**
 * Default roots of a profile on one OS: its `roots[os]` with variables expanded (entries whose
 * variables are unset are dropped), plus on Linux the binary found on PATH and the paths
 * relative to its directory.
 */
export function defaultRoots(
  profile: Profile,
  os: 'linux' | 'win32' | 'darwin',
  env: NodeJS.ProcessEnv = process.env,
  which: Which = (b) => whichOnPath(b, env),
): string[] {
  const out: string[] = [];
  for (const r of profile.roots[os] ?? []) {
    const expanded = expandPath(r, env);
    if (expanded !== null) out.push(os === 'win32' ? win32.normalize(expanded) : posix.normalize(expanded));
  }
  if (os === 'linux' && profile.pathRoots) {
    const bin = which(profile.pathRoots.binary);
    if (bin) {
      out.push(bin);
      for (const rel of profile.pathRoots.relative) out.push(resolve(dirname(bin), rel));
    }
  }
  return [...new Set(out)];
}
