import { execFile, spawn } from 'node:child_process';
import { LlmUpgradeError, type ServiceRef } from '@llm-upgrade/core';
import type { RestartPlan } from '../journal.js';
import type { UpgradeEventSink } from '../events.js';
import { resolveUnderRoot } from './checks.js';

function systemctl(service: ServiceRef, timeoutMs: number): Promise<void> {
  const args = [...(service.scope === 'user' ? ['--user'] : []), 'start', service.name];
  return new Promise((resolve, reject) => {
    execFile('systemctl', args, { timeout: timeoutMs }, (err, _out, stderr) => (err ? reject(new Error(`systemctl ${args.join(' ')}: ${stderr || err.message}`)) : resolve()));
  });
}

/**
 * Starts again what was running before the stop: its service manager's units, else the
 * profile's start command (root-relative argv, detached, no stdio tied to us or to the root).
 * Returns how, or null when nothing was running.
 */
export async function restartServer(root: string, plan: RestartPlan, timeoutMs: number, onEvent?: UpgradeEventSink): Promise<string | null> {
  if (!plan.wasRunning) return null;
  try {
    if (plan.services.length > 0) {
      for (const s of plan.services) {
        if (s.manager !== 'systemd') throw new Error(`restarting ${s.manager} services is not supported on this platform`);
        await systemctl(s, timeoutMs);
        onEvent?.({ type: 'restart', how: `systemd ${s.name}` });
      }
      return 'service';
    }
    if (!plan.command || plan.command.length === 0) return null;
    const [cmd, ...args] = plan.command;
    const child = spawn(resolveUnderRoot(root, cmd!), args, { cwd: root, detached: true, stdio: 'ignore', windowsHide: true });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', reject);
    });
    child.unref();
    onEvent?.({ type: 'restart', how: 'command', ...(child.pid !== undefined ? { pid: child.pid } : {}) });
    return 'command';
  } catch (e) {
    throw new LlmUpgradeError({ code: 'ERR_HEALTH', message: `could not restart the server: ${(e as Error).message}`, hint: 'The previous version was restored; check the start command or service.', phase: 'restart', changed: true, cause: e });
  }
}
