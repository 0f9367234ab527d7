// The shared test kit is used by the upgrader, demo and SEA tests too: its fake runner and its
// cleanup must do what they promise.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { TestKit, compileFakeRunner, descendantsOf, parseReadyLine, waitFor } from '@llm-upgrade/testkit';
import { alive, liveUnder } from './helpers.js';

const kit = new TestKit();
afterEach(() => kit.cleanup());

describe('@llm-upgrade/testkit', () => {
  it('compiles the fake runner per version: --version and GET /api/version report it', async () => {
    const bin = await compileFakeRunner({ version: '3.2.1-rc.1' });
    expect(execFileSync(bin, ['--version'], { encoding: 'utf8' })).toBe('ollama version is 3.2.1-rc.1\n');
    const inst = await kit.makeSampleInstall({ version: '1.4.0' });
    expect(execFileSync(inst.bin, ['--version'], { encoding: 'utf8' }).trim()).toBe('ollama version is 1.4.0');
    const server = await kit.spawnTree(inst.bin, ['serve', '--port', '0']);
    const res = await fetch(`http://127.0.0.1:${server.ready?.port}/api/version`);
    expect(await res.json()).toEqual({ version: '1.4.0' });
    expect((await fetch(`http://127.0.0.1:${server.ready?.port}/nope`)).status).toBe(404);
  });

  it('parses ready lines', () => {
    expect(parseReadyLine('ready 12 port=80 engines=13,14 zombie=15')).toEqual({
      pid: 12,
      port: 80,
      engines: [13, 14],
      zombie: 15,
      line: 'ready 12 port=80 engines=13,14 zombie=15',
    });
    expect(parseReadyLine('hello')).toBeNull();
  });

  it('serve execs lib/ollama/llama-server for engines, which map the model', async () => {
    const inst = await kit.makeSampleInstall({ version: '1.0.0' });
    const tree = await kit.spawnTree(inst.bin, ['serve', '--engines', '2', '--', '--model', inst.model]);
    const engines = tree.ready?.engines ?? [];
    expect([...descendantsOf([tree.pid])].sort()).toEqual([...engines].sort());
    for (const e of engines) {
      expect(execFileSync('readlink', [`/proc/${e}/exe`], { encoding: 'utf8' }).trim()).toBe(inst.engine);
      expect(execFileSync('cat', [`/proc/${e}/maps`], { encoding: 'utf8' })).toContain(inst.model);
    }
  });

  it('cleanup kills storms, orphans and crashed trees by pid and removes its temp dirs', async () => {
    const other = new TestKit();
    const inst = await other.makeSampleInstall({ version: '1.0.0' });
    const crashed = await other.spawnTree(inst.bin, ['serve', '--engines', '2', '--crash', '--', '--ignore-term']);
    await other.spawnTree(inst.bin, ['storm', '3', '--width', '3', '--churn-ms', '20', '--ignore-term']);
    await other.spawnTree(inst.bin, ['supervise', '--ignore-term', '--', inst.bin, 'serve']);
    await waitFor(() => liveUnder(inst.root).length > 20, { what: 'the trees' });
    await other.cleanup();
    expect(liveUnder(inst.root)).toEqual([]);
    expect((crashed.ready?.engines ?? []).some(alive)).toBe(false);
    expect(existsSync(inst.base)).toBe(false);
  });
});
