import { execFile } from 'node:child_process';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  currentOs,
  EXIT,
  INTERRUPT_SIGNALS,
  isLlmUpgradeError,
  watchInstall,
  type InterruptSignal,
  type WatchEvent,
  errors,
} from '@llm-upgrade/core';
import { acquireLock } from '../../transaction/lock.js';
import { renderSystemdUnit, scheduledTaskArgs, systemctlSteps, systemdUnitPath, SERVICE_NAME, TASK_NAME } from '../../service.js';
import type { CommonOptions, ParsedCommand } from '../args.js';
import { coreEventSink } from '../render.js';
import type { Reporter } from '../reporter.js';
import { resolveCliScope } from '../scope.js';
import type { CommandHandler } from './types.js';

function describe(e: WatchEvent): string | undefined {
  switch (e.type) {
    case 'watching':
      return `watching ${e.roots.join(', ')} (${e.mode === 'poll' ? 'rescans only' : `${e.mode} events`}; ${e.watched} parent process(es) watched)`;
    case 'parent-exit':
      return `pid ${e.pids.join(', ')} exited`;
    case 'orphans':
      return `orphaned: pid ${e.pids.join(', ')}`;
    case 'swept':
      return `ended ${e.stopped.map((p) => `${p.name} (pid ${p.pid}, ${p.how})`).join(', ') || 'nothing'} in ${e.durationMs} ms${e.freedMiB ? `, ${e.freedMiB} MiB of GPU memory freed` : ''}`;
    case 'skipped':
      return `skipped: ${e.reason}`;
    case 'warning':
      return `warning: ${e.message}`;
    default:
      return undefined;
  }
}

/** The argv that re-runs this watcher with the same scope (for the service). */
function selfArgv(parsed: ParsedCommand): string[] {
  const script = process.argv[1];
  const self = script && script !== process.execPath ? [process.execPath, script] : [process.execPath];
  const { common } = parsed;
  const scope = [...common.installDirs.flatMap((d) => ['--install-dir', d]), ...(common.profile ? ['--profile', common.profile] : [])];
  const grace = common.graceMs !== undefined ? ['--grace', `${common.graceMs}ms`] : [];
  const log = common.logFile ? ['--log-file', common.logFile] : [];
  return [...self, 'watch', ...scope, ...grace, ...log];
}

function exec(argv: string[]): Promise<{ code: number; output: string }> {
  const [file, ...args] = argv as [string, ...string[]];
  return new Promise((resolve) =>
    execFile(file, args, { timeout: 30_000, windowsHide: true }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, output: `${stdout}${stderr}`.trim() }),
    ),
  );
}

async function manageService(
  action: 'install' | 'uninstall',
  parsed: ParsedCommand,
  reporter: Reporter,
): Promise<{ exitCode: number; result: object }> {
  const user = parsed.values.user === true;
  const argv = selfArgv(parsed);
  const fail = (message: string, output: string) =>
    errors.internalError({
      message: `${message}: ${output}`,
      hint: user ? 'Is a user manager running (loginctl enable-linger)?' : 'Run as root (system unit) or add --user.',
      phase: 'usage',
      changed: action === 'install',
    });
  if (currentOs() === 'win32') {
    const args = scheduledTaskArgs(action, argv);
    if (parsed.common.dryRun) return { exitCode: EXIT.ok, result: { ok: true, dryRun: true, schtasks: args } };
    const r = await exec(['schtasks', ...args]);
    if (r.code !== 0) throw fail(`schtasks ${args[0]} failed`, r.output);
    reporter.line(`${action === 'install' ? 'created' : 'removed'} the scheduled task "${TASK_NAME}"`);
    return { exitCode: EXIT.ok, result: { ok: true, task: TASK_NAME, schtasks: args } };
  }
  if (currentOs() !== 'linux')
    throw errors.unsupportedPlatformError({
      message: 'watch --install-service supports systemd (Linux) and the Windows task scheduler',
      hint: 'On macOS, run `llm-upgrade watch` from a launchd agent.',
      phase: 'usage',
      changed: false,
    });
  const path = systemdUnitPath(user, process.env);
  const unit = renderSystemdUnit({ execStart: argv, user });
  const steps = systemctlSteps(action, user);
  if (parsed.common.dryRun) return { exitCode: EXIT.ok, result: { ok: true, dryRun: true, path, unit, steps } };
  if (action === 'install') {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, unit, { mode: 0o644 });
    reporter.line(`wrote ${path}`);
  }
  for (const step of steps) {
    const r = await exec(step);
    // Removing a unit that systemd no longer knows is fine; installing must succeed.
    if (r.code !== 0 && action === 'install') throw fail(`${step.join(' ')} failed (the unit is written at ${path})`, r.output);
  }
  if (action === 'uninstall') {
    await rm(path, { force: true });
    reporter.line(`removed ${path}`);
  } else reporter.line(`enabled and started ${SERVICE_NAME}.service`);
  return { exitCode: EXIT.ok, result: { ok: true, path, unit, steps } };
}

/** Holds the install's lock only while acting; undefined when another upgrader holds it. */
async function withInstallLock<T>(roots: readonly string[], act: () => Promise<T>): Promise<T | undefined> {
  const dirs = await Promise.all(
    roots.map((r) =>
      stat(r).then(
        (s) => s.isDirectory(),
        () => false,
      ),
    ),
  );
  const root = roots.find((_, i) => dirs[i]);
  if (root === undefined) return act(); // only single-file roots (/usr/local/bin/ollama): no lock to take
  let lock;
  try {
    lock = await acquireLock(root, 'watch');
  } catch (e) {
    if (isLlmUpgradeError(e) && e.code === 'ERR_LOCKED') return undefined;
    return act(); // a root we cannot write a lock in (read-only): act unlocked
  }
  try {
    return await act();
  } finally {
    await lock.release();
  }
}

const watch: CommandHandler = async ({ parsed, reporter }) => {
  const install = parsed.values['install-service'] === true;
  const uninstall = parsed.values['uninstall-service'] === true;
  if (install && uninstall)
    throw errors.usageError({
      message: '--install-service and --uninstall-service exclude each other',
      hint: 'Give one of them.',
      phase: 'usage',
      changed: false,
    });
  if (install || uninstall) return manageService(install ? 'install' : 'uninstall', parsed, reporter);

  const common: CommonOptions = parsed.common;
  const first = await resolveCliScope(common);
  const controller = new AbortController();
  let stoppedBy: InterruptSignal | undefined;
  const handlers = (Object.keys(INTERRUPT_SIGNALS) as InterruptSignal[]).map((s) => {
    const h = () => {
      stoppedBy = s;
      controller.abort(s);
    };
    process.on(s, h);
    return [s, h] as const;
  });
  const sink = coreEventSink(reporter);
  try {
    const summary = await watchInstall({
      roots: common.installDirs.length > 0 ? first.roots : async () => (await resolveCliScope(common)).roots,
      profile: first.profile,
      graceMs: common.graceMs,
      signal: controller.signal,
      withLock: withInstallLock,
      onEvent: (e) => {
        const human = describe(e as WatchEvent);
        if (human !== undefined) reporter.event(e as unknown as { type: string }, human);
        else sink(e as Parameters<typeof sink>[0]);
      },
    });
    reporter.line(`${stoppedBy ?? 'stop'} received: watch ends (${summary.sweeps} sweep(s), ${summary.stopped} process(es) ended)`);
    return { exitCode: EXIT.ok, result: { ok: true, ...summary } };
  } finally {
    for (const [s, h] of handlers) process.off(s, h);
  }
};

export const watchCommand: CommandHandler = Object.assign(watch, { handlesSignals: true });
