import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve as resolvePath } from 'node:path';
import { getBackend, isUnderRoot, errors, type ServiceRef } from '@llm-upgrade/core';
import type { RecordedProcess, RestartPlan } from './journal.js';
import type { UpgradeEventSink } from '../events.js';
import { statePaths } from '../paths.js';
import { resolveUnderRoot } from './checks.js';
import { installLayout } from '../layout.js';

/** How restart went: the pids it started (for services: each unit's main process) and where their output goes. */
export interface RestartOutcome {
  how: 'service' | 'recorded' | 'command';
  pids: number[];
  logFile: string | null;
  /** systemd units started, with the main process each one runs now (the health gate's subject). */
  units?: UnitProcess[];
}

export interface UnitProcess {
  service: ServiceRef;
  mainPid: number;
}

/** The file to run for a recorded process: argv[0] as it resolved then (now the new version), else its exe. */
function binaryFor(rec: RecordedProcess, roots: string[]): string | null {
  const argv0 = rec.argv[0] ?? '';
  const candidates: string[] = [];
  if (isAbsolute(argv0)) candidates.push(argv0);
  else if (argv0.includes('/') && rec.cwd) candidates.push(resolvePath(rec.cwd, argv0));
  if (rec.exe) candidates.push(rec.exe);
  return candidates.find((c) => roots.some((r) => isUnderRoot(c, r, (p) => p)) && existsSync(c)) ?? null;
}

function isDir(p: string | null): p is string {
  try {
    return p !== null && statSync(p).isDirectory();
  } catch {
    return false;
  }
}

async function spawnDetached(
  file: string,
  args: string[],
  opts: { argv0?: string; cwd: string; env: NodeJS.ProcessEnv; uid?: number; gid?: number; logFile: string | null },
): Promise<number> {
  let fd: number | null = null;
  try {
    fd = opts.logFile ? openSync(opts.logFile, 'a') : null;
  } catch {
    fd = null; // a full disk must not keep the server from starting: it runs without a log file
  }
  try {
    const child = spawn(file, args, {
      ...(opts.argv0 ? { argv0: opts.argv0 } : {}),
      cwd: opts.cwd,
      env: opts.env,
      ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
      ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
      detached: true,
      stdio: ['ignore', fd ?? 'ignore', fd ?? 'ignore'],
      windowsHide: true,
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', reject);
    });
    child.unref();
    return child.pid!;
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

async function startRecorded(
  rec: RecordedProcess,
  roots: string[],
  root: string,
  fallback: string[] | undefined,
): Promise<{ pid: number; logFile: string | null }> {
  // The path it ran from may be gone (a versioned file the new package does not have): then the
  // profile's start binary, still with the recorded arguments, cwd and environment.
  const profileBinary = fallback?.[0] ? resolveUnderRoot(root, fallback[0]) : null;
  const file = binaryFor(rec, roots) ?? (profileBinary && existsSync(profileBinary) ? profileBinary : null);
  if (!file) throw new Error(`${rec.exe ?? rec.argv[0]} (was pid ${rec.pid}) is not in the install any more`);
  const myUid = process.getuid?.();
  const asUser = myUid === 0 && rec.uid !== null && rec.uid !== 0 ? { uid: rec.uid, ...(rec.gid !== null ? { gid: rec.gid } : {}) } : {};
  const logFile = rec.logFile ?? join(statePaths(root).state, `${rec.name.replace(/[^\w.-]/g, '_')}.log`);
  const pid = await spawnDetached(file, rec.argv.slice(1), {
    argv0: rec.argv[0]!,
    cwd: isDir(rec.cwd) ? rec.cwd : root,
    env: rec.env ?? process.env,
    ...asUser,
    logFile,
  });
  return { pid, logFile };
}

/**
 * Starts again what was running before the stop, the way it ran: its service manager's units;
 * else each recorded top-level process with its argv (the binary path now the new version),
 * cwd, environment and user, its output appended to the file it went to before (or
 * `.llm-upgrade/<name>.log`); else the profile's start command. null when nothing was running.
 */
export async function restartServer(
  roots: string[],
  plan: RestartPlan,
  timeoutMs: number,
  onEvent?: UpgradeEventSink,
): Promise<RestartOutcome | null> {
  if (!plan.wasRunning) return null;
  const root = installLayout(roots).base;
  try {
    if (plan.services.length > 0) {
      const units: UnitProcess[] = [];
      for (const s of plan.services) {
        // The same manager it was stopped through (the OS backend: systemd, launchd, Windows services).
        const { mainPid } = await (await getBackend()).startService(s, timeoutMs);
        if (mainPid !== null) units.push({ service: s, mainPid });
        onEvent?.({ type: 'restart', how: `${s.manager} ${s.name}`, ...(mainPid !== null ? { pid: mainPid } : {}) });
      }
      const servicePids = new Set(plan.services.flatMap((s) => s.pids));
      const rest = (plan.processes ?? []).filter((p) => !servicePids.has(p.pid));
      const pids: number[] = units.map((u) => u.mainPid);
      for (const rec of rest) pids.push((await startRecorded(rec, roots, root, plan.command)).pid);
      return { how: 'service', pids, logFile: null, units };
    }
    if (plan.processes && plan.processes.length > 0) {
      const pids: number[] = [];
      let logFile: string | null = null;
      for (const rec of plan.processes) {
        const started = await startRecorded(rec, roots, root, plan.command);
        pids.push(started.pid);
        logFile ??= started.logFile;
        onEvent?.({ type: 'restart', how: 'recorded', pid: started.pid, ...(started.logFile ? { logFile: started.logFile } : {}) });
      }
      return { how: 'recorded', pids, logFile };
    }
    if (!plan.command || plan.command.length === 0) return null;
    const [cmd, ...args] = plan.command;
    const logFile = join(statePaths(root).state, 'server.log');
    const pid = await spawnDetached(resolveUnderRoot(root, cmd!), args, { cwd: root, env: process.env, logFile });
    onEvent?.({ type: 'restart', how: 'command', pid, logFile });
    return { how: 'command', pids: [pid], logFile };
  } catch (e) {
    throw errors.healthError({
      message: `could not restart the server: ${(e as Error).message}`,
      hint: 'Check the start command or service; see the log named above.',
      phase: 'restart',
      changed: true,
      cause: e,
    });
  }
}
