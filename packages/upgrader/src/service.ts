// Rendering of the `watch` service: a systemd unit (system or user manager) on Linux, a per-user
// scheduled task at logon on Windows. Pure functions; cli/commands/watch.ts writes and enables.

export const SERVICE_NAME = 'llm-upgrade-watch';
export const TASK_NAME = 'llm-upgrade watch';

/** One ExecStart word, quoted the way systemd.service(5) reads it; `%` and `$` escaped. */
export function systemdQuote(word: string): string {
  const escaped = word.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (escaped !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

export interface UnitOptions {
  /** argv of the watcher: the upgrader and `watch` with its scope. */
  execStart: string[];
  /** A user unit (`systemctl --user`) instead of a system one. */
  user: boolean;
  description?: string;
}

export function renderSystemdUnit(opts: UnitOptions): string {
  return [
    '[Unit]',
    `Description=${opts.description ?? 'llm-upgrade watch: end LLM engines orphaned by a dead frontend'}`,
    'Documentation=https://github.com/llm-upgrade/llm-upgrade#engines-never-outlive-their-frontend',
    '',
    '[Service]',
    'Type=simple',
    `ExecStart=${opts.execStart.map(systemdQuote).join(' ')}`,
    // SIGTERM ends the watcher with exit 0; it never starts anything that must outlive it.
    'KillSignal=SIGTERM',
    'Restart=on-failure',
    'RestartSec=5',
    'Nice=5',
    '',
    '[Install]',
    `WantedBy=${opts.user ? 'default.target' : 'multi-user.target'}`,
    '',
  ].join('\n');
}

/** Where the unit goes: /etc/systemd/system, or ~/.config/systemd/user (XDG_CONFIG_HOME honoured). */
export function systemdUnitPath(user: boolean, env: NodeJS.ProcessEnv): string {
  if (!user) return `/etc/systemd/system/${SERVICE_NAME}.service`;
  const config = env.XDG_CONFIG_HOME || `${env.HOME ?? '~'}/.config`;
  return `${config}/systemd/user/${SERVICE_NAME}.service`;
}

/** systemctl invocations that install (daemon-reload, enable --now) or remove (disable --now) the unit. */
export function systemctlSteps(action: 'install' | 'uninstall', user: boolean): string[][] {
  const base = user ? ['systemctl', '--user'] : ['systemctl'];
  return action === 'install'
    ? [
        [...base, 'daemon-reload'],
        [...base, 'enable', '--now', `${SERVICE_NAME}.service`],
      ]
    : [
        [...base, 'disable', '--now', `${SERVICE_NAME}.service`],
        [...base, 'daemon-reload'],
      ];
}

/** A Windows command-line word (CommandLineToArgvW rules). */
export function windowsQuote(word: string): string {
  if (word !== '' && !/[\s"]/.test(word)) return word;
  return `"${word.replace(/(\\*)"/g, '$1$1\\"').replace(/(\\+)$/, '$1$1')}"`;
}

/** schtasks.exe arguments: a task that runs the watcher at this user's logon, with this user's rights. */
export function scheduledTaskArgs(action: 'install' | 'uninstall', execStart: string[]): string[] {
  if (action === 'uninstall') return ['/Delete', '/TN', TASK_NAME, '/F'];
  return ['/Create', '/TN', TASK_NAME, '/TR', execStart.map(windowsQuote).join(' '), '/SC', 'ONLOGON', '/RL', 'LIMITED', '/F'];
}
