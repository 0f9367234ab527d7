import { afterEach, describe, expect, it } from 'vitest';
import { TestKit } from '@llm-upgrade/testkit';
import { alive, bundleRunCore, VERSION } from './helpers.js';

const kit = new TestKit();
afterEach(() => kit.cleanup());

describe('our own ancestor in scope', () => {
  it('refuses with ERR_SELF_IN_SCOPE before signalling anything', async () => {
    const inst = await kit.makeSampleInstall({ version: VERSION });
    const bundle = await bundleRunCore(kit);
    const bystander = await kit.spawnTree(inst.bin, ['serve', '--engines', '2', '--orphan']);
    // The install's own binary starts node, which calls stop() on that same install.
    const parent = await kit.spawnTree(
      inst.bin,
      ['supervise', '--once', '--', process.execPath, bundle, 'stop', JSON.stringify([inst.root])],
      { cwd: inst.base },
    );
    const exit = await parent.exited;
    expect(exit.code).toBe(0);
    const result = JSON.parse(parent.stdout().trim().split('\n').pop() ?? '') as {
      ok: boolean;
      error: { code: string; phase: string; changed: boolean; message: string; details: { pid: number; exe: string } };
    };
    expect(result.ok).toBe(false);
    expect(result.error).toMatchObject({
      code: 'ERR_SELF_IN_SCOPE',
      phase: 'stop',
      changed: false,
      details: { pid: parent.pid, exe: inst.bin },
    });
    expect(result.error.message).toContain(`pid ${parent.pid}`);
    for (const pid of [bystander.pid, ...(bystander.ready?.engines ?? [])]) expect(alive(pid)).toBe(true);
  });
});
