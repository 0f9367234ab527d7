import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { restartServer } from './restart.js';

// No systemd runs here (and must never be booted on this machine): a `systemctl` on PATH that
// records its argv shows which manager a unit is started through.
const dir = mkdtempSync(join(tmpdir(), 'llm-upgrade-systemctl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('restart through the service manager', () => {
  it('starts a user unit with the same --user --machine=USER@ it was stopped with, a system unit without', async () => {
    const log = join(dir, 'argv.log');
    // `show` answers like systemd for a running Type=simple unit: the restart waits for its main process.
    writeFileSync(
      join(dir, 'systemctl'),
      `#!/bin/sh\necho "$*" >> "${log}"\ncase "$*" in *show*) printf 'MainPID=4242\\nActiveState=active\\nSubState=running\\n';; esac\n`,
    );
    chmodSync(join(dir, 'systemctl'), 0o755);
    const path = process.env.PATH;
    process.env.PATH = `${dir}:${path}`;
    try {
      const r = await restartServer(
        [join(dir, 'root')],
        {
          wasRunning: true,
          services: [
            { manager: 'systemd', name: 'ollama.service', scope: 'user', user: 'alice', pids: [] },
            { manager: 'systemd', name: 'ollama-system.service', scope: 'system', pids: [] },
          ],
          processes: [],
        },
        5000,
      );
      expect(r?.how).toBe('service');
      expect(r?.units?.map((u) => u.mainPid)).toEqual([4242, 4242]);
    } finally {
      process.env.PATH = path;
    }
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual([
      '--user --machine=alice@ start ollama.service',
      '--user --machine=alice@ show -p MainPID -p ActiveState -p SubState ollama.service',
      'start ollama-system.service',
      'show -p MainPID -p ActiveState -p SubState ollama-system.service',
    ]);
  });
});
