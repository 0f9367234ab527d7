// `--feed github:OWNER/REPO` against a GitHub releases API served on loopback (testkit's
// github-api.ts) with a fake Ollama release made like Ollama's CI (testkit's ollama-release.ts).
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  layOutOllamaInstall,
  makeOllamaRelease,
  startGithubApi,
  TestKit,
  type FakeRelease,
  type GithubApiServer,
  type OllamaInstall,
  type OllamaRelease,
} from '@llm-upgrade/testkit';
import { ensureBuilt, runCli, treeDigest } from './helpers.js';
import { runProcess } from '@llm-upgrade/testkit';

const kit = new TestKit();
const sha256 = async (file: string) =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
const TOKEN = 'ghp_test-token-never-logged';

/** Every asset Ollama publishes for linux-amd64, plus sha256sum.txt. */
function releaseOf(
  r: OllamaRelease,
  tag: string,
  extra: Partial<FakeRelease> = {},
  override: Record<string, Partial<{ digest: string | null; data: Buffer }>> = {},
): FakeRelease {
  const files = [r.base, r.rocm, r.baseTgz, r.rocmTgz, r.baseZip, r.rocmZip, r.sha256sums];
  return { tag, ...extra, assets: files.map((file) => ({ name: basename(file), file, ...(override[basename(file)] ?? {}) })) };
}

describe('check and apply --feed github:OWNER/REPO', () => {
  let v1: OllamaRelease;
  let v2: OllamaRelease;
  let api: GithubApiServer;

  /** An install.sh-style prefix with v1 and, unless told otherwise, the rocm add-on. */
  const installV1 = (addOns = true): Promise<OllamaInstall> => layOutOllamaInstall(kit, v1, addOns ? { addOns: [v1.rocm] } : {});
  const scopeOf = (i: OllamaInstall) => ['--install-dir', i.bin, '--install-dir', i.lib, '--profile', 'ollama'];
  const gh = (feed = 'github:o/r') => ['--feed', feed, '--github-api', api.url];

  beforeAll(async () => {
    ensureBuilt();
    v1 = await makeOllamaRelease(kit, { version: '1.0.0' });
    v2 = await makeOllamaRelease(kit, { version: '2.0.0' });
    api = await startGithubApi({ owner: 'o', repo: 'r', releases: [releaseOf(v2, 'v2.0.0'), releaseOf(v1, 'v1.0.0')] });
  }, 300_000);

  afterAll(async () => {
    await api?.close();
    await kit.cleanup();
  });

  describe('check', () => {
    it('reports installed vs latest with the add-on the install has; --exit-code 10', async () => {
      const install = await installV1();
      const r = await runCli(['check', ...gh(), ...scopeOf(install), '--exit-code', '--json']);
      expect(r.code, r.stderr).toBe(10);
      expect(r.json).toMatchObject({
        ok: true,
        feed: 'github:o/r',
        platform: 'linux-x64',
        installed: '1.0.0',
        updateAvailable: true,
        latest: { version: '2.0.0', tag: 'v2.0.0', prerelease: false },
      });
      expect(r.json.latest.assets.map((a: { name: string }) => a.name)).toEqual([
        'ollama-linux-amd64.tar.zst',
        'ollama-linux-amd64-rocm.tar.zst',
      ]);
      expect(r.json.latest.assets[1].sha256).toBe(v2.sha256['ollama-linux-amd64-rocm.tar.zst']);
    });

    it('takes the base alone without the add-on; up to date at a tag is exit 0', async () => {
      const install = await installV1(false);
      const latest = await runCli(['check', ...gh(), ...scopeOf(install), '--json']);
      expect(latest.code, latest.stderr).toBe(0);
      expect(latest.json.latest.assets.map((a: { name: string }) => a.name)).toEqual(['ollama-linux-amd64.tar.zst']);
      const pinned = await runCli(['check', ...gh('github:o/r@v1.0.0'), ...scopeOf(install), '--exit-code']);
      expect(pinned.code, pinned.stderr).toBe(0);
      expect(pinned.stdout).toMatch(/github:o\/r v1\.0\.0 .*installed: 1\.0\.0 — up to date/);
    });

    it('finds an install.sh install on PATH (no --install-dir)', async () => {
      const install = await installV1();
      const r = await runCli(['check', ...gh(), '--profile', 'ollama', '--json'], {
        env: { PATH: `${install.binDir}:${process.env.PATH}` },
      });
      expect(r.code, r.stderr).toBe(0);
      expect(r.json).toMatchObject({ installed: '1.0.0', latest: { version: '2.0.0' } });
      expect(r.json.latest.assets).toHaveLength(2);
    });

    it('with no install found, shows what the release offers (base only, installed unknown)', async () => {
      const r = await runCli(['check', ...gh(), '--profile', 'ollama', '--exit-code', '--json'], { env: { PATH: '/usr/bin:/bin' } });
      expect(r.code, r.stdout).toBe(10);
      expect(r.json).toMatchObject({ installed: null, updateAvailable: true, latest: { version: '2.0.0' } });
      expect(r.json.latest.assets.map((a: { name: string }) => a.name)).toEqual(['ollama-linux-amd64.tar.zst']);
    });

    it('--pre takes the newest pre-release; without it the latest release', async () => {
      const install = await installV1();
      const v3 = await makeOllamaRelease(kit, { version: '3.0.0-rc.1' });
      const pre = await startGithubApi({
        owner: 'o',
        repo: 'r',
        releases: [
          releaseOf(v3, 'v3.0.0-rc.1', { prerelease: true }),
          { tag: 'v9.0.0', draft: true, assets: [] },
          releaseOf(v2, 'v2.0.0'),
          releaseOf(v1, 'v1.0.0'),
        ],
      });
      try {
        const stable = await runCli(['check', '--feed', 'github:o/r', '--github-api', pre.url, ...scopeOf(install), '--json']);
        expect(stable.json.latest).toMatchObject({ version: '2.0.0', prerelease: false });
        const withPre = await runCli(['check', '--feed', 'github:o/r', '--github-api', pre.url, '--pre', ...scopeOf(install), '--json']);
        expect(withPre.code, withPre.stderr).toBe(0);
        expect(withPre.json.latest).toMatchObject({ version: '3.0.0-rc.1', tag: 'v3.0.0-rc.1', prerelease: true });
        expect(pre.requests.some((q) => q.path === '/repos/o/r/releases')).toBe(true);
      } finally {
        await pre.close();
      }
    });

    it('sends GITHUB_TOKEN as a bearer token and never prints it; without it a private repository is 404 with a hint', async () => {
      const install = await installV1();
      const priv = await startGithubApi({ owner: 'o', repo: 'r', token: TOKEN, releases: [releaseOf(v2, 'v2.0.0')] });
      try {
        const ok = await runCli(['check', '--feed', 'github:o/r', '--github-api', priv.url, ...scopeOf(install), '--json', '--verbose'], {
          env: { GITHUB_TOKEN: TOKEN },
        });
        expect(ok.code, ok.stderr).toBe(0);
        expect(priv.requests.filter((q) => q.path.startsWith('/repos/')).every((q) => q.authorization === `Bearer ${TOKEN}`)).toBe(true);
        expect(`${ok.stdout}${ok.stderr}`).not.toContain(TOKEN);
        const anonymous = await runCli(['check', '--feed', 'github:o/r', '--github-api', priv.url, ...scopeOf(install), '--json'], {
          env: { GITHUB_TOKEN: '' },
        });
        expect(anonymous.code).toBe(2);
        expect(anonymous.json.error).toMatchObject({
          code: 'ERR_FETCH',
          message: expect.stringContaining('not found'),
          hint: expect.stringContaining('GITHUB_TOKEN'),
        });
      } finally {
        await priv.close();
      }
    });

    it('a rate limit (403 or 429) is exit 2 with a hint to set GITHUB_TOKEN', async () => {
      const install = await installV1();
      for (const status of [403, 429] as const) {
        api.rateLimit(status);
        try {
          const r = await runCli(['check', ...gh(), ...scopeOf(install), '--json'], { env: { GITHUB_TOKEN: '' } });
          expect(r.code).toBe(2);
          expect(r.json.error).toMatchObject({
            code: 'ERR_FETCH',
            message: expect.stringContaining('rate limit'),
            hint: expect.stringContaining('GITHUB_TOKEN'),
          });
        } finally {
          api.rateLimit(null);
        }
      }
    });

    it('an unknown repository or tag is exit 2; no asset for the platform names what was looked for and what exists', async () => {
      const install = await installV1();
      const repo = await runCli(['check', ...gh('github:o/nope'), ...scopeOf(install), '--json']);
      expect(repo.code).toBe(2);
      expect(repo.json.error.message).toContain('github:o/nope');
      const tag = await runCli(['check', ...gh('github:o/r@v7.7.7'), ...scopeOf(install), '--json']);
      expect(tag.code).toBe(2);
      expect(tag.json.error.message).toContain('release v7.7.7 not found');
      const arm = await runCli(['check', ...gh(), ...scopeOf(install), '--platform', 'linux-arm64', '--json']);
      expect(arm.code).toBe(2);
      expect(arm.json.error.message).toMatch(
        /looked for ollama-linux-arm64\.tar\.zst, ollama-linux-arm64\.tgz; it has ollama-linux-amd64\.tar\.zst, /,
      );
    });

    it('sha256sum.txt and the API digest must agree', async () => {
      const install = await installV1();
      const bad = await startGithubApi({
        owner: 'o',
        repo: 'r',
        releases: [releaseOf(v2, 'v2.0.0', {}, { 'ollama-linux-amd64.tar.zst': { digest: `sha256:${'0'.repeat(64)}` } })],
      });
      try {
        const r = await runCli(['check', '--feed', 'github:o/r', '--github-api', bad.url, ...scopeOf(install), '--json']);
        expect(r.code).toBe(2);
        expect(r.json.error).toMatchObject({ code: 'ERR_HASH_MISMATCH', message: expect.stringContaining('ollama-linux-amd64.tar.zst') });
      } finally {
        await bad.close();
      }
    });
  });

  describe('apply', () => {
    const versionOf = async (i: OllamaInstall) => (await runProcess(i.bin, ['--version'])).stdout.trim();

    it('installs the v2 base and the v2 rocm add-on into an install.sh install found on PATH; the other tool is untouched', async () => {
      const install = await installV1();
      const other = await sha256(install.othertool);
      const r = await runCli(['apply', ...gh(), '--profile', 'ollama', '--json'], {
        env: { PATH: `${install.binDir}:${process.env.PATH}` },
      });
      expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
      expect(r.json).toMatchObject({ ok: true, from: '1.0.0', to: '2.0.0' });
      expect(await versionOf(install)).toBe('ollama version is 2.0.0');
      for (const f of v2.rocmFiles) expect(await sha256(join(install.prefix, f))).toBe(await sha256(join(v2.rocmTree, f)));
      expect(await sha256(join(install.lib, 'libggml-base.so'))).toBe(await sha256(join(v2.baseTree, 'lib/ollama/libggml-base.so')));
      expect(await sha256(install.othertool)).toBe(other);
      const again = await runCli(['check', ...gh(), ...scopeOf(install), '--exit-code', '--json']);
      expect(again.code, again.stderr).toBe(0);
      expect(again.json).toMatchObject({ installed: '2.0.0', updateAvailable: false });
    });

    it('--dry-run and an install already at the release download nothing and change nothing', async () => {
      const install = await installV1();
      const before = await treeDigest(install.prefix);
      const downloads = () => api.requests.filter((q) => q.path.startsWith('/download/'));
      const n0 = downloads().length;
      const dry = await runCli(['apply', ...gh(), ...scopeOf(install), '--dry-run', '--json']);
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.json).toMatchObject({ ok: true, dryRun: true, from: '1.0.0', to: '2.0.0', source: 'github:o/r@v2.0.0' });
      expect(await treeDigest(install.prefix)).toBe(before);
      const same = await runCli(['apply', ...gh('github:o/r@v1.0.0'), ...scopeOf(install), '--json']);
      expect(same.code, same.stderr).toBe(0);
      expect(same.json).toMatchObject({ ok: true, noop: true, from: '1.0.0', to: '1.0.0' });
      // sha256sum.txt is read to know the digests; no archive was fetched.
      const fetched = downloads()
        .slice(n0)
        .map((q) => q.path);
      expect(fetched.length).toBeGreaterThan(0);
      expect(
        fetched.every((p) => p.endsWith('/sha256sum.txt')),
        fetched.join(', '),
      ).toBe(true);
      expect(await treeDigest(install.prefix)).toBe(before);
    });

    it('an archive whose bytes differ from sha256sum.txt is exit 2 and the install is untouched', async () => {
      const install = await installV1();
      const before = await treeDigest(install.prefix);
      const flipped = Buffer.from(await readFile(v2.base));
      flipped[flipped.length >> 1] = flipped[flipped.length >> 1]! ^ 0xff;
      const bad = await startGithubApi({
        owner: 'o',
        repo: 'r',
        releases: [releaseOf(v2, 'v2.0.0', {}, { 'ollama-linux-amd64.tar.zst': { data: flipped, digest: null } })],
      });
      try {
        const r = await runCli(['apply', '--feed', 'github:o/r', '--github-api', bad.url, ...scopeOf(install), '--json']);
        expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(2);
        expect(r.json.error.code).toBe('ERR_BAD_CHECKSUM');
        expect(await treeDigest(install.prefix)).toBe(before);
      } finally {
        await bad.close();
      }
    });

    it('resumes a download the server cut mid-asset (HTTP Range), with the token sent to the API', async () => {
      const install = await installV1();
      const priv = await startGithubApi({ owner: 'o', repo: 'r', token: TOKEN, releases: [releaseOf(v2, 'v2.0.0')] });
      try {
        const size = (await readFile(v2.base)).length;
        priv.dropOnce('ollama-linux-amd64.tar.zst', Math.floor(size / 3));
        const r = await runCli(['apply', '--feed', 'github:o/r', '--github-api', priv.url, ...scopeOf(install), '--json'], {
          env: { GITHUB_TOKEN: TOKEN },
        });
        expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
        expect(await versionOf(install)).toBe('ollama version is 2.0.0');
        const gets = priv.requests.filter((q) => q.path.endsWith('/ollama-linux-amd64.tar.zst'));
        expect(gets.length).toBeGreaterThanOrEqual(2);
        expect(gets.at(-1)!.range).toMatch(/^bytes=[1-9]\d*-$/);
        expect(priv.requests.filter((q) => q.path.startsWith('/repos/')).every((q) => q.authorization === `Bearer ${TOKEN}`)).toBe(true);
        expect(`${r.stdout}${r.stderr}`).not.toContain(TOKEN);
      } finally {
        await priv.close();
      }
    });
  });
});
