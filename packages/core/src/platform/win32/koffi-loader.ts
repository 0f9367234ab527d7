// Finds koffi without ever throwing. Three sources, in order:
//  1. `require('koffi')` — npm installs (koffi picks @koromix/koffi-win32-x64 itself);
//  2. a native koffi.node path: setKoffiNativeSource(), or the LLM_UPGRADE_KOFFI_NATIVE env var;
//  3. inside a Node single-executable: the SEA asset `koffi.node`, written to a fresh mkdtemp dir
//     and loaded with process.dlopen (a SEA cannot require files from disk
//     through its bundled require, and a .node addon has to exist as a file to be loaded).
// The raw native module exposes the same API as the koffi package (load, alloc, address...);
// the package's JS wrapper only adds deprecated aliases.
import { createRequire } from 'node:module';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type Koffi = typeof import('koffi');

export const KOFFI_NATIVE_ENV = 'LLM_UPGRADE_KOFFI_NATIVE';
export const KOFFI_SEA_ASSET = 'koffi.node';

let nativeSource: (() => string | null) | null = null;
let cached: { koffi: Koffi | null; errors: string[] } | undefined;

/** Lets a bundler-specific entry point say where koffi.node is (called before the first load). */
export function setKoffiNativeSource(source: (() => string | null) | null): void {
  nativeSource = source;
  cached = undefined;
}

function looksLikeKoffi(m: unknown): m is Koffi {
  return (
    typeof m === 'object' &&
    m !== null &&
    typeof (m as { load?: unknown }).load === 'function' &&
    typeof (m as { version?: unknown }).version === 'string'
  );
}

function nodeRequire(): NodeRequire | null {
  try {
    return createRequire(import.meta.url);
  } catch {
    try {
      return createRequire(process.execPath);
    } catch {
      return null;
    }
  }
}

function dlopen(path: string): Koffi | null {
  const m: { exports: unknown } = { exports: {} };
  process.dlopen(m as unknown as NodeJS.Module, path);
  const exp = m.exports as Record<string, unknown>;
  return looksLikeKoffi(exp) ? exp : null;
}

interface SeaModule {
  isSea(): boolean;
  getAsset(key: string): ArrayBuffer;
}

function seaModule(): SeaModule | null {
  const get = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  try {
    const m = get ? get('node:sea') : nodeRequire()?.('node:sea');
    return m && typeof (m as SeaModule).isSea === 'function' ? (m as SeaModule) : null;
  } catch {
    return null;
  }
}

/** A bare koffi.node by path, or null (never throws). */
export function loadKoffiNative(path: string): Koffi | null {
  try {
    return dlopen(path);
  } catch {
    return null;
  }
}

/**
 * Writes the SEA's koffi.node asset to a fresh private directory (mkdtemp) and returns its path.
 * Never a predictable path: as SYSTEM, %TEMP% is C:\Windows\Temp, where any user could
 * pre-create a directory and plant a DLL beside the addon or swap the file.
 */
export function extractSeaKoffi(): string | null {
  const sea = seaModule();
  if (!sea?.isSea()) return null;
  let bytes: Buffer;
  try {
    bytes = Buffer.from(sea.getAsset(KOFFI_SEA_ASSET));
  } catch {
    return null;
  }
  const file = join(mkdtempSync(join(tmpdir(), 'llm-upgrade-koffi-')), 'koffi.node');
  writeFileSync(file, bytes, { mode: 0o600 });
  return file;
}

const runningAsSea = (): boolean => {
  try {
    return seaModule()?.isSea() === true;
  } catch {
    return false;
  }
};

/** koffi, or null with the reasons in koffiLoadErrors(). Never throws. */
export function loadKoffi(): Koffi | null {
  if (cached) return cached.koffi;
  const errors: string[] = [];
  // A single executable never resolves koffi through node_modules: the lookup walks up to
  // C:\node_modules, which any user can create, and an MSI action runs this as SYSTEM.
  const req = runningAsSea() ? null : nodeRequire();
  if (req) {
    try {
      const m = req('koffi') as unknown;
      const k = looksLikeKoffi(m) ? m : looksLikeKoffi((m as { default?: unknown })?.default) ? (m as { default: Koffi }).default : null;
      if (k) {
        cached = { koffi: k, errors };
        return k;
      }
      errors.push('require("koffi") returned something else');
    } catch (e) {
      errors.push(`require("koffi"): ${(e as Error).message}`);
    }
  }
  const sources: Array<[string, () => string | null]> = [
    ['setKoffiNativeSource', () => nativeSource?.() ?? null],
    [KOFFI_NATIVE_ENV, () => process.env[KOFFI_NATIVE_ENV] || null],
    ['SEA asset', extractSeaKoffi],
  ];
  for (const [label, source] of sources) {
    try {
      const path = source();
      if (!path) continue;
      const k = dlopen(path);
      if (k) {
        cached = { koffi: k, errors };
        return k;
      }
      errors.push(`${label}: ${path} is not koffi`);
    } catch (e) {
      errors.push(`${label}: ${(e as Error).message}`);
    }
  }
  cached = { koffi: null, errors };
  return null;
}

export function koffiLoadErrors(): readonly string[] {
  return cached?.errors ?? [];
}
