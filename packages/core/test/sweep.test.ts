import { afterEach, describe, expect, it } from 'vitest';
import { TestKit } from '@llm-upgrade/testkit';
import { status, sweep } from '../src/index.js';
import { alive, VERSION } from './helpers.js';

const kit = new TestKit();
afterEach(() => kit.cleanup());

async function version(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/api/version`);
  return ((await res.json()) as { version: string }).version;
}

describe('sweep', () => {
  it('ends orphans only: a healthy server and its engines keep running and answering', async () => {
    const inst = await kit.makeSampleInstall({ version: VERSION });
    const healthy = await kit.spawnTree(inst.bin, ['serve', '--port', '0', '--engines', '2', '--', '--model', inst.model]);
    const crashed = await kit.spawnTree(inst.bin, ['serve', '--engines', '2', '--crash', '--', '--ignore-term', '--model', inst.model]);
    await crashed.exited;
    const detached = await kit.spawnTree(inst.bin, ['serve', '--engines', '1', '--orphan']);
    const orphans = [...(crashed.ready?.engines ?? []), ...(detached.ready?.engines ?? [])];
    const before = await status({ roots: [inst.root] });
    expect(before.orphans.map((p) => p.pid).sort()).toEqual([...orphans].sort());

    const result = await sweep({ roots: [inst.root], graceMs: 300 });
    expect(result.ok).toBe(true);
    expect(result.stopped.map((p) => p.pid).sort()).toEqual([...orphans].sort());
    expect(orphans.filter(alive)).toEqual([]);
    for (const pid of [healthy.pid, ...(healthy.ready?.engines ?? []), detached.pid]) expect(alive(pid)).toBe(true);
    expect(await version(healthy.ready?.port ?? 0)).toBe(VERSION);
    const after = await status({ roots: [inst.root] });
    expect(after.orphans).toEqual([]);
  });

  it('with no orphans it changes nothing', async () => {
    const inst = await kit.makeSampleInstall({ version: VERSION });
    const healthy = await kit.spawnTree(inst.bin, ['serve', '--engines', '1']);
    const result = await sweep({ roots: [inst.root], graceMs: 100 });
    expect(result).toMatchObject({ ok: true, stopped: [], survivors: [] });
    expect([healthy.pid, ...(healthy.ready?.engines ?? [])].every(alive)).toBe(true);
  });
});
