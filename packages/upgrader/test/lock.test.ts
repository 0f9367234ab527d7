import { spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runProcess, TestKit } from '@llm-upgrade/testkit';
import { ensureBuilt, REPO, runCli } from './helpers.js';

// The lock: a stale one is taken over by exactly one of many contenders; an unreadable one, or
// one from another host, is never taken over.
const kit = new TestKit();
let base: string;
const LOCK_JS = pathToFileURL(join(REPO, 'packages/upgrader/dist/transaction/lock.js')).href;

beforeAll(async () => {
  ensureBuilt();
  base = await kit.makeTempDir('llm-upgrade-lock-');
});
afterAll(() => kit.cleanup());

function deadPid(): number {
  const r = spawnSync('/bin/true');
  return r.pid!;
}

async function staleLock(root: string, extra: Record<string, unknown> = {}): Promise<string> {
  await mkdir(join(root, '.llm-upgrade'), { recursive: true });
  const lock = join(root, '.llm-upgrade', 'lock');
  await writeFile(
    lock,
    `${JSON.stringify({ pid: deadPid(), startKey: '12345', command: 'apply', since: '2026-01-01T00:00:00.000Z', ...extra })}\n`,
  );
  return lock;
}

/** A contender: waits for the common start instant, tries once, holds a won lock for holdMs. */
const contender = `
const { acquireLock } = await import(process.argv[1]);
const [root, startAt, holdMs] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
while (Date.now() < startAt) {}
try {
  const h = await acquireLock(root, 'contender');
  console.log('GOT');
  await new Promise((r) => setTimeout(r, holdMs));
  await h.release();
} catch (e) { console.log(e.code ?? e.message); }
`;

describe('lock', () => {
  it('8 contenders on a stale lock: exactly one holds it (3 rounds)', async () => {
    for (let round = 0; round < 3; round++) {
      const root = join(base, `contended-${round}`);
      await staleLock(root);
      const startAt = Date.now() + 1500;
      const runs = await Promise.all(
        Array.from({ length: 8 }, () =>
          runProcess(process.execPath, ['--input-type=module', '-e', contender, LOCK_JS, root, String(startAt), '2500'], {
            timeoutMs: 30_000,
          }),
        ),
      );
      const outs = runs.map((r) => r.stdout.trim());
      expect(
        outs.filter((o) => o === 'GOT'),
        outs.join(','),
      ).toHaveLength(1);
      expect(
        outs.filter((o) => o === 'ERR_LOCKED'),
        outs.join(','),
      ).toHaveLength(7);
    }
  }, 60_000);

  it('an unreadable lock is not stale: exit 5, the lock is left as it is', async () => {
    const root = join(base, 'garbage');
    await mkdir(join(root, '.llm-upgrade'), { recursive: true });
    const lock = join(root, '.llm-upgrade', 'lock');
    await writeFile(lock, '{"pid": 12');
    const r = await runCli(['recover', '--install-dir', root, '--json']);
    expect(r.code).toBe(5);
    expect(r.json.error.code).toBe('ERR_LOCKED');
    expect(r.json.error.message).toContain('cannot be read');
    expect(await readFile(lock, 'utf8')).toBe('{"pid": 12');
  });

  it('a lock from another host is not taken over (its pid means nothing here)', async () => {
    const root = join(base, 'other-host');
    const lock = await staleLock(root, { hostname: 'some-other-machine' });
    const before = await readFile(lock, 'utf8');
    const r = await runCli(['recover', '--install-dir', root, '--json']);
    expect(r.code).toBe(5);
    expect(r.json.error.message).toContain('on some-other-machine');
    expect(await readFile(lock, 'utf8')).toBe(before);
  });

  it('a stale lock on this host (dead pid) is taken over and released', async () => {
    const root = join(base, 'stale');
    const lock = await staleLock(root, { hostname: (await import('node:os')).hostname() });
    const r = await runCli(['recover', '--install-dir', root, '--json']);
    expect(r.code, r.stderr).toBe(0);
    await expect(readFile(lock)).rejects.toThrow(/ENOENT/);
  });
});
