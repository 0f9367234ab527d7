import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { extractSeaKoffi, installedKoffiNative, loadKoffi, loadKoffiNative } from './koffi-loader.js';
import { createNativeWinApi } from './native.js';

const tmp = mkdtempSync(join(tmpdir(), 'llmu-koffi-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The prebuilt koffi.node npm installed for this machine, if any. */
function installedNative(): string | null {
  try {
    const req = createRequire(import.meta.url);
    const pkgDir = dirname(req.resolve(`@koromix/koffi-${process.platform}-${process.arch}/package.json`));
    for (const sub of [`${process.platform}_${process.arch}`, 'linux_x64', 'darwin_arm64', 'darwin_x64', 'win32_x64']) {
      const f = join(pkgDir, sub, 'koffi.node');
      if (existsSync(f)) return f;
    }
  } catch {
    // not installed for this platform
  }
  return null;
}

describe('loadKoffi', () => {
  it('loads the npm-installed koffi and never throws', () => {
    const k = loadKoffi();
    expect(k).not.toBeNull();
    expect(k?.version).toBe('3.3.4');
  });

  it.skipIf(!installedNative())('finds the prebuilt koffi.node of this platform the way npm laid it out, and it is the one loaded', () => {
    const file = installedKoffiNative(createRequire(import.meta.url));
    expect(file).toBe(installedNative());
    const k = loadKoffi() as unknown as Record<string, unknown>;
    // The package's JS wrapper adds `introspect` and `resolve` to the raw addon: without them, the fast path was taken.
    expect(typeof k.load).toBe('function');
    expect(k.introspect).toBeUndefined();
  });

  const native = installedNative();
  it.skipIf(!native)(`loads a bare koffi.node by path, as a single executable does (${native ?? 'no prebuilt for this platform'})`, () => {
    const k = loadKoffiNative(native ?? '');
    expect(k?.version).toBe('3.3.4');
    expect(typeof k?.load).toBe('function');
  });

  it('returns null for a path that is not koffi', () => {
    const bogus = join(tmp, 'koffi.node');
    writeFileSync(bogus, 'not an addon');
    expect(loadKoffiNative(bogus)).toBeNull();
    expect(loadKoffiNative(join(tmp, 'missing.node'))).toBeNull();
  });

  it('finds no SEA asset outside a single executable', () => {
    expect(extractSeaKoffi()).toBeNull();
  });

  it.skipIf(process.platform === 'win32')(`gives no WinApi where kernel32.dll does not exist (${process.platform})`, () => {
    expect(createNativeWinApi()).toBeNull();
  });
});
