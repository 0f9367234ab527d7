// The README's first command ends in `npm run demo`: run it as a new user would (through the
// workspace's npm bin, with its code cache in a fresh cache directory) and check what it says.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runProcess } from '@llm-upgrade/testkit';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const cacheHome = mkdtempSync(join(tmpdir(), 'llmu-demo-cache-'));
afterAll(() => rmSync(cacheHome, { recursive: true, force: true }));

describe('npm run demo', () => {
  it('upgrades the running sample install 1.0.0 → 2.0.0 and leaves nothing behind', async () => {
    const r = await runProcess(process.execPath, [join(REPO, 'tools/demo.mjs')], {
      env: { ...process.env, NO_COLOR: '1', XDG_CACHE_HOME: cacheHome },
      timeoutMs: 300_000,
    });
    const out = `${r.stdout}\n${r.stderr}`;
    expect(r.code, out).toBe(0);
    expect(r.stdout).toContain('demo finished: upgraded 1.0.0 → 2.0.0 with no process left behind');
    expect(out).toMatch(/upgraded \S+: 1\.0\.0 → 2\.0\.0 \(/);
    expect(out).not.toContain('ERR_INTERNAL');
    // The status after the upgrade reports the new version.
    const afterUpgrade = r.stdout.slice(r.stdout.indexOf('status after the upgrade'));
    expect(afterUpgrade).toMatch(/version: 2\.0\.0/);
    // Every llm-upgrade after the first ran from the bin's code cache.
    expect(readdirSync(join(cacheHome, 'llm-upgrade')).length).toBeGreaterThan(0);
  }, 320_000);
});
