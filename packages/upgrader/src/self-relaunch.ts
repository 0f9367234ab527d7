import { spawn } from 'node:child_process';
import { getBackend, isUnderRoot, type ProcessInfo } from '@llm-upgrade/core';

/** Set on the relaunched upgrader: "<pid>:<startKey>" of the in-scope ancestor it must outlive. */
export const RELAUNCH_ENV = 'LLM_UPGRADE_RELAUNCHED_FROM';

/** The nearest ancestor of ours whose executable lies under a root (the app updating itself), if any. */
export async function inScopeAncestor(roots: string[]): Promise<ProcessInfo | null> {
  const backend = await getBackend();
  const snap = await backend.snapshot();
  const byPid = new Map(snap.processes.map((p) => [p.pid, p]));
  const seen = new Set<number>();
  let pid = process.ppid;
  while (pid > 1 && !seen.has(pid)) {
    seen.add(pid);
    const p = byPid.get(pid);
    if (!p) break;
    if (p.exe && roots.some((r) => isUnderRoot(p.exe!, r, (x) => backend.pathKey(x)))) return p;
    pid = p.ppid;
  }
  return null;
}

/**
 * Starts the same command again, detached in its own session so that stopping the ancestor's
 * tree cannot take it along, and marked so it waits for that ancestor instead of relaunching.
 * `userArgs` are the CLI arguments (without node and script).
 */
export function relaunchDetached(
  userArgs: string[],
  ancestor: Pick<ProcessInfo, 'pid' | 'startKey'>,
  env: NodeJS.ProcessEnv = process.env,
): number {
  // A single executable has argv [exe, exe, ...args]; under node it is [node, script, ...args].
  const isSingleExe = process.argv[1] === process.execPath;
  const args = isSingleExe ? userArgs : [...process.execArgv, process.argv[1]!, ...userArgs];
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: 'ignore',
    windowsHide: true,
    env: { ...env, [RELAUNCH_ENV]: `${ancestor.pid}:${ancestor.startKey}` },
  });
  child.unref();
  if (child.pid === undefined) throw new Error('could not start the detached upgrader');
  return child.pid;
}

/** In the relaunched upgrader: wait (up to timeoutMs) until the ancestor named by RELAUNCH_ENV has exited. Returns whether it did. */
export async function waitForRelaunchParent(env: NodeJS.ProcessEnv, timeoutMs: number): Promise<boolean> {
  const marker = env[RELAUNCH_ENV];
  if (!marker) return true;
  const [pidText, startKey] = marker.split(':');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return true;
  const backend = await getBackend();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const key = await backend.identityOf(pid);
    if (key === null || key !== startKey) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}
