import { readFile, stat } from 'node:fs/promises';
import { getBackend, isLlmUpgradeError, errors } from '@llm-upgrade/core';
import { acquireLock, type LockHandle } from '../transaction/lock.js';
import { statePaths } from '../paths.js';
import { installLayout } from '../layout.js';

/** What lock.ts writes into the lock file (only the fields read here). */
interface LockFileInfo {
  pid: number;
  startKey: string | null;
  command: string;
  since: string;
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isDirectory() ?? false;
}

/** ERR_LOCKED when `<root>/.llm-upgrade/lock` names a live process (read-only check, for roots we cannot write). */
async function assertNotLockedByOther(root: string): Promise<void> {
  const lockPath = statePaths(root).lock;
  let info: LockFileInfo;
  try {
    info = JSON.parse(await readFile(lockPath, 'utf8')) as LockFileInfo;
  } catch {
    return;
  }
  const key = await (await getBackend()).identityOf(info.pid).catch(() => null);
  if (info.pid === process.pid || key === null || (info.startKey !== null && key !== info.startKey)) return;
  throw errors.lockedError({
    message: `another upgrader (pid ${info.pid}, "${info.command}", since ${info.since}) holds ${lockPath}`,
    hint: `Wait for pid ${info.pid} to finish, then run the command again.`,
    phase: 'lock',
    changed: false,
    details: { pid: info.pid, command: info.command, since: info.since, lock: lockPath },
  });
}

/**
 * stop and sweep take the same lock as apply (on the first root, where apply installs), so they
 * never signal engines an apply is stopping or restarting. A single-file root has no state
 * directory of ours (apply installs into directories): nothing to lock there. A root we may not
 * write cannot be locked; then we only refuse when a live upgrader holds it, and say so.
 */
export async function lockForEnding(roots: readonly string[], command: string, warn: (line: string) => void): Promise<LockHandle | null> {
  if (roots.length === 0) return null;
  const layout = installLayout(roots);
  const root = layout.base;
  // A prefix layout (/usr/local) gets a state directory only from apply: a stop does not litter it.
  if (!(await isDirectory(root)) || (layout.units && !(await isDirectory(statePaths(root).state)))) return null;
  try {
    return await acquireLock(root, command);
  } catch (e) {
    if (!isLlmUpgradeError(e) || e.code !== 'ERR_READ_ONLY') throw e;
    await assertNotLockedByOther(root);
    warn(`cannot write ${statePaths(root).state} to take the install's lock (${e.message}); continuing without it`);
    return null;
  }
}
