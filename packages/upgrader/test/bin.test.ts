// The npm bin (bin/llm-upgrade.js) runs the one-file bundle that the build makes
// (dist/cli.bundle.cjs): the same answers as dist/cli/main.js, for a real running install.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import Module from 'node:module';
import { TestKit, runProcess } from '@llm-upgrade/testkit';
import { REPO, ensureBuilt, runCli } from './helpers.js';

const BIN = join(REPO, 'packages/upgrader/bin/llm-upgrade.js');
const BUNDLE = join(REPO, 'packages/upgrader/dist/cli.bundle.cjs');

const kit = new TestKit();
const cacheKit = new TestKit();
afterEach(() => kit.cleanup());
afterAll(() => cacheKit.cleanup());
beforeAll(async () => {
  ensureBuilt();
  cacheHome = await cacheKit.makeTempDir('llmu-bin-cache-');
  if (!existsSync(BUNDLE)) execFileSync(process.execPath, [join(REPO, 'packages/upgrader/scripts/bundle-cli.mjs')], { stdio: 'inherit' });
});

/** Where the bin keeps its compile cache in these tests (never the home of whoever runs them). */
let cacheHome: string;

async function runBin(args: string[], env: NodeJS.ProcessEnv = {}) {
  // Through the shebang, as npm's link runs it.
  const r = await runProcess(BIN, args, { env: { ...process.env, NO_COLOR: '1', XDG_CACHE_HOME: cacheHome, ...env }, timeoutMs: 90_000 });
  return { ...r, json: args.includes('--json') ? JSON.parse(r.stdout) : undefined };
}

describe('bin/llm-upgrade.js', () => {
  it('prints the package version', async () => {
    const r = await runBin(['--version']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(
      (JSON.parse(readFileSync(join(REPO, 'packages/upgrader/package.json'), 'utf8')) as { version: string }).version,
    );
  });

  it('holders through the bundle finds what dist/cli/main.js finds', async () => {
    const inst = await kit.makeSampleInstall({ version: '1.0.0' });
    const server = await kit.spawnTree(inst.bin, ['serve', '--engines', '1', '--', '--model', inst.model]);
    const outside = await kit.makeSampleInstall({ version: '1.0.0' });
    const foreign = await kit.spawnTree(outside.engine, ['engine', '--hold', inst.lib]);
    const viaBin = await runBin(['holders', '--install-dir', inst.root, '--json']);
    const viaDist = await runCli(['holders', '--install-dir', inst.root, '--json']);
    expect(viaBin.code, viaBin.stderr).toBe(0);
    expect(viaDist.code, viaDist.stderr).toBe(0);
    const key = (h: { pid: number; kind: string; path: string; inScope: boolean }) => `${h.pid} ${h.kind} ${h.path} ${h.inScope}`;
    const fromBin = viaBin.json.holders.map(key).sort();
    expect(fromBin).toEqual(viaDist.json.holders.map(key).sort());
    expect(fromBin).toEqual(expect.arrayContaining([`${server.pid} exe ${inst.bin} true`, `${foreign.pid} fd ${inst.lib} false`]));
  });

  it('a usage error keeps its exit code through the bundle', async () => {
    const r = await runBin(['holders', '/opt/x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--install-dir');
  });

  describe('compile cache (Node 20: vm.Script cached data; Node ≥ 22.1: module.enableCompileCache)', () => {
    const cacheDir = () => join(cacheHome, 'llm-upgrade', `compile-cache-${process.version}-${process.arch}`);
    const cacheFiles = () => (existsSync(cacheDir()) ? readdirSync(cacheDir()) : []);
    const viaVm = typeof (Module as { enableCompileCache?: unknown }).enableCompileCache !== 'function';

    it('is written once, into a directory of the user alone, and used by the next start', async () => {
      expect((await runBin(['--version'])).code).toBe(0);
      expect(statSync(cacheDir()).mode & 0o777).toBe(0o700);
      const files = cacheFiles();
      expect(files.length).toBeGreaterThan(0);
      if (viaVm) {
        expect(files).toHaveLength(1);
        expect(files[0]).toMatch(/^[0-9a-f]{32}\.v8$/);
        const file = join(cacheDir(), files[0]!);
        expect(statSync(file).mode & 0o777).toBe(0o600);
        const written = statSync(file).mtimeMs;
        const r = await runBin(['holders', '--install-dir', (await kit.makeSampleInstall({ version: '1.0.0' })).root, '--json']);
        expect(r.code, r.stderr).toBe(0);
        expect(r.json.ok).toBe(true);
        expect(statSync(file).mtimeMs, 'an accepted cache is not rewritten').toBe(written);
      }
      // Commands that load their code lazily (import() of built-ins) run from the cache too.
      const st = await runBin(['status', '--install-dir', (await kit.makeSampleInstall({ version: '1.0.0' })).root, '--json']);
      expect(st.code, st.stderr).toBe(0);
      expect(st.json.ok).toBe(true);
    });

    it.skipIf(!viaVm)('a corrupt cache file is rejected by V8 and replaced; the command still runs', async () => {
      expect((await runBin(['--version'])).code).toBe(0);
      const file = join(cacheDir(), cacheFiles()[0]!);
      writeFileSync(file, Buffer.alloc(4096, 0x5a));
      const r = await runBin(['--version']);
      expect(r.code, r.stderr).toBe(0);
      expect(readFileSync(file).equals(Buffer.alloc(4096, 0x5a))).toBe(false);
    });

    it('a cache directory others may write to is never used', async () => {
      const home = await kit.makeTempDir('llmu-bin-shared-cache-');
      const dir = join(home, 'llm-upgrade', `compile-cache-${process.version}-${process.arch}`);
      mkdirSync(dir, { recursive: true });
      chmodSync(dir, 0o777);
      const r = await runBin(['--version'], { XDG_CACHE_HOME: home });
      expect(r.code, r.stderr).toBe(0);
      expect(readdirSync(dir)).toEqual([]);
    });
  });
});
