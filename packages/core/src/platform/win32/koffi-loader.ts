// Finds koffi without ever throwing. Three sources, in order:
//  1. npm installs: the prebuilt koffi.node of the platform package npm installed
//     (@koromix/koffi-linux-x64/linux_x64/koffi.node), loaded directly — ~1 ms instead of the
//     ~8 ms `require('koffi')` spends detecting the platform, which a holder scan pays on every
//     run — else `require('koffi')` itself;
//  2. a native koffi.node path: setKoffiNativeSource(), or the LLM_UPGRADE_KOFFI_NATIVE env var;
//  3. inside a Node single-executable: the SEA asset `koffi.node`, written to a fresh mkdtemp dir
//     and loaded with process.dlopen (a SEA cannot require files from disk
//     through its bundled require, and a .node addon has to exist as a file to be loaded).
// The raw native module exposes the same API as the koffi package (load, alloc, address...);
// the package's JS wrapper only adds deprecated aliases.
import { createRequire } from 'node:module';
import { closeSync, existsSync, mkdtempSync, openSync, readSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

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

/**
 * Deletes the extracted asset and its directory once loaded: Linux and macOS let a loaded
 * library be unlinked, so nothing is left in the temp directory; Windows refuses (in use) and
 * keeps it.
 */
function removeExtracted(file: string): void {
  try {
    unlinkSync(file);
    rmdirSync(dirname(file));
  } catch {
    // already gone
  }
}

const runningAsSea = (): boolean => {
  try {
    return seaModule()?.isSea() === true;
  } catch {
    return false;
  }
};

/** Whether this Node links against musl (its ELF interpreter, in the first page, is ld-musl). */
function nodeIsMusl(): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(process.execPath, 'r');
    const head = Buffer.alloc(4096);
    const n = readSync(fd, head, 0, head.length, 0);
    return head.subarray(0, n).includes('ld-musl');
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The koffi.node npm installed for this platform (koffi's own layout), or null. */
export function installedKoffiNative(req: NodeRequire): string | null {
  try {
    const pkgDir = dirname(req.resolve(`@koromix/koffi-${process.platform}-${process.arch}/package.json`));
    const libc = nodeIsMusl() ? 'musl' : process.platform; // only an ELF Node can name ld-musl
    const file = join(pkgDir, `${libc}_${process.arch}`, 'koffi.node');
    return existsSync(file) ? file : null;
  } catch {
    return null;
  }
}

/** koffi, or null with the reasons in koffiLoadErrors(). Never throws. */
export function loadKoffi(): Koffi | null {
  if (cached) return cached.koffi;
  const errors: string[] = [];
  // A single executable never resolves koffi through node_modules: the lookup walks up to
  // C:\node_modules, which any user can create, and an MSI action runs this as SYSTEM.
  const req = runningAsSea() ? null : nodeRequire();
  if (req) {
    const native = installedKoffiNative(req);
    const fast = native ? loadKoffiNative(native) : null;
    if (fast) {
      cached = { koffi: fast, errors };
      return fast;
    }
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
    let path: string | null = null;
    try {
      path = source();
      if (!path) continue;
      const k = dlopen(path);
      if (k) {
        cached = { koffi: k, errors };
        return k;
      }
      errors.push(`${label}: ${path} is not koffi`);
    } catch (e) {
      errors.push(`${label}: ${(e as Error).message}`);
    } finally {
      if (path && label === 'SEA asset') removeExtracted(path);
    }
  }
  cached = { koffi: null, errors };
  return null;
}

export function koffiLoadErrors(): readonly string[] {
  return cached?.errors ?? [];
}
