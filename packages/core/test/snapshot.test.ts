import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TestKit } from '@llm-upgrade/testkit';
import { LinuxBackend } from '../src/platform/linux/index.js';
import { placeRunner, VERSION } from './helpers.js';

const kit = new TestKit();
afterEach(() => kit.cleanup());
const backend = new LinuxBackend();

describe('LinuxBackend.snapshot (/proc)', () => {
  it('reads pid, ppid, exe, cmdline, user and a start time that matches our own', async () => {
    const snap = await backend.snapshot();
    const me = snap.processes.find((p) => p.pid === process.pid);
    expect(me).toMatchObject({ ppid: process.ppid, exe: process.execPath, user: 'root', state: 'R' });
    expect(me?.cmdline).toEqual(expect.arrayContaining(process.argv.slice(1, 2)));
    const startedAt = Date.now() - process.uptime() * 1000;
    expect(Math.abs((me?.startTime ?? 0) - startedAt)).toBeLessThan(1500);
    expect(await backend.identityOf(process.pid)).toBe(me?.startKey);
  });

  it('keeps names beyond 15 characters, spaces and parentheses from the exe', async () => {
    const dir = await kit.makeTempDir('llm-upgrade-names-');
    const odd = await placeRunner(kit, join(dir, 'odd (name) with spaces', 'ollama app) S 1 (x'));
    const long = await placeRunner(kit, join(dir, 'a-very-long-engine-name-over-15'));
    const a = await kit.spawnTree(odd, ['engine', '--', 'x']);
    const b = await kit.spawnTree(long, ['engine']);
    const snap = await backend.snapshot();
    expect(snap.processes.find((p) => p.pid === a.pid)).toMatchObject({
      name: 'ollama app) S 1 (x',
      exe: odd,
      ppid: process.pid,
      cmdline: [odd, 'engine', '--', 'x'],
    });
    expect(snap.processes.find((p) => p.pid === b.pid)).toMatchObject({ name: 'a-very-long-engine-name-over-15', exe: long });
  });

  it('identity is null for a zombie and for a pid that is gone', async () => {
    const inst = await kit.makeSampleInstall({ version: VERSION });
    const tree = await kit.spawnTree(inst.bin, ['serve', '--zombie']);
    const zombie = tree.ready?.zombie ?? 0;
    expect((await backend.snapshot()).processes.find((p) => p.pid === zombie)?.state).toBe('Z');
    expect(await backend.identityOf(zombie)).toBeNull();
    expect(await backend.identityOf(tree.pid)).not.toBeNull();
    process.kill(tree.pid, 'SIGKILL');
    await tree.exited;
    expect(await backend.identityOf(tree.pid)).toBeNull();
  });

  it('requestExit and forceKill re-check identity: a stale start time is never signalled', async () => {
    const inst = await kit.makeSampleInstall({ version: VERSION });
    const tree = await kit.spawnTree(inst.bin, ['serve', '--ignore-term']);
    const snap = await backend.snapshot();
    const info = snap.processes.find((p) => p.pid === tree.pid);
    if (!info) throw new Error('server not in snapshot');
    const stale = { ...info, startKey: String(Number(info.startKey) - 1), role: 'server' as const, inScope: true, orphan: false };
    expect(await backend.requestExit([stale], new Set())).toEqual([{ pid: tree.pid, result: 'gone' }]);
    const forced = await backend.forceKill([stale], { rescan: async () => [], protectedPids: new Set() });
    expect(forced.map((o) => o.result)).toEqual(['gone']);
    expect(await backend.identityOf(tree.pid)).toBe(info.startKey);
    // Protected pids are never signalled either, whatever the identity says.
    const real = { ...stale, startKey: info.startKey };
    expect((await backend.requestExit([real], new Set([tree.pid])))[0]?.result).toBe('failed');
    expect(await backend.forceKill([real], { rescan: async () => [real], protectedPids: new Set([tree.pid]) })).toEqual([]);
    expect(await backend.identityOf(tree.pid)).toBe(info.startKey);
    expect(backend.pathKey('/A/b')).toBe('/A/b');
  });
});
