import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderSystemdUnit, scheduledTaskArgs, systemctlSteps, systemdQuote, systemdUnitPath, windowsQuote } from './service.js';

const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

describe('watch service', () => {
  it('quotes ExecStart words for systemd', () => {
    expect(systemdQuote('/usr/bin/node')).toBe('/usr/bin/node');
    expect(systemdQuote('/opt/my app')).toBe('"/opt/my app"');
    expect(systemdQuote('100%')).toBe('100%%');
    expect(systemdQuote('$HOME')).toBe('"$$HOME"');
    expect(systemdQuote('a"b\\c')).toBe('"a\\"b\\\\c"');
  });

  it('renders a system unit and a user unit', () => {
    const sys = renderSystemdUnit({
      execStart: ['/usr/bin/node', '/opt/llm-upgrade/main.js', 'watch', '--install-dir', '/opt/my ollama'],
      user: false,
    });
    expect(sys).toContain('ExecStart=/usr/bin/node /opt/llm-upgrade/main.js watch --install-dir "/opt/my ollama"\n');
    expect(sys).toContain('WantedBy=multi-user.target');
    const user = renderSystemdUnit({ execStart: ['/usr/bin/llm-upgrade', 'watch'], user: true });
    expect(user).toContain('WantedBy=default.target');
    expect(systemdUnitPath(true, { HOME: '/home/a' })).toBe('/home/a/.config/systemd/user/llm-upgrade-watch.service');
    expect(systemdUnitPath(false, {})).toBe('/etc/systemd/system/llm-upgrade-watch.service');
    expect(systemctlSteps('install', true)).toEqual([
      ['systemctl', '--user', 'daemon-reload'],
      ['systemctl', '--user', 'enable', '--now', 'llm-upgrade-watch.service'],
    ]);
    expect(systemctlSteps('uninstall', false)[0]).toEqual(['systemctl', 'disable', '--now', 'llm-upgrade-watch.service']);
  });

  it.skipIf(!hasAnalyze)('the rendered unit passes systemd-analyze verify', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llm-upgrade-unit-'));
    try {
      const file = join(dir, 'llm-upgrade-watch.service');
      writeFileSync(
        file,
        renderSystemdUnit({
          execStart: [process.execPath, '/opt/llm upgrade/main.js', 'watch', '--install-dir', '/opt/ollama', '--grace', '2s'],
          user: false,
        }),
      );
      const r = spawnSync('systemd-analyze', ['verify', '--man=no', file], { encoding: 'utf8' });
      // verify prints nothing for a clean unit; it may still warn about the host (no systemd running here).
      expect(r.stderr).not.toMatch(/llm-upgrade-watch\.service:\d+:/);
      expect(r.stderr).not.toMatch(/Failed to|Invalid|Unknown/i);
      expect(r.status, r.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('renders the scheduled task at logon', () => {
    const args = scheduledTaskArgs('install', [
      'C:\\Program Files\\llm-upgrade\\llm-upgrade.exe',
      'watch',
      '--install-dir',
      'C:\\Users\\a\\AppData\\Local\\Programs\\Ollama',
    ]);
    expect(args).toEqual([
      '/Create',
      '/TN',
      'llm-upgrade watch',
      '/TR',
      '"C:\\Program Files\\llm-upgrade\\llm-upgrade.exe" watch --install-dir C:\\Users\\a\\AppData\\Local\\Programs\\Ollama',
      '/SC',
      'ONLOGON',
      '/RL',
      'LIMITED',
      '/F',
    ]);
    expect(scheduledTaskArgs('uninstall', [])).toEqual(['/Delete', '/TN', 'llm-upgrade watch', '/F']);
    expect(windowsQuote('C:\\a b\\')).toBe('"C:\\a b\\\\"');
  });
});
