// The npm bin (bin/llm-upgrade.js) runs the one-file bundle that the build makes
// (dist/cli.bundle.cjs): the same answers as dist/cli/main.js, for a real running install.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TestKit, runProcess } from '@llm-upgrade/testkit';
import { REPO, ensureBuilt, runCli } from './helpers.js';

const BIN = join(REPO, 'packages/upgrader/bin/llm-upgrade.js');
const BUNDLE = join(REPO, 'packages/upgrader/dist/cli.bundle.cjs');

const kit = new TestKit();
afterEach(() => kit.cleanup());
beforeAll(() => {
  ensureBuilt();
  if (!existsSync(BUNDLE)) execFileSync(process.execPath, [join(REPO, 'packages/upgrader/scripts/bundle-cli.mjs')], { stdio: 'inherit' });
});

async function runBin(args: string[]) {
  // Through the shebang, as npm's link runs it.
  const r = await runProcess(BIN, args, { env: { ...process.env, NO_COLOR: '1' }, timeoutMs: 90_000 });
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
});
