import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rename, rmdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { LlmUpgradeError, getBackend, toLlmUpgradeError } from '@llm-upgrade/core';
import { statePaths } from './paths.js';

export interface LockInfo {
  pid: number;
  startKey: string | null;
  command: string;
  since: string;
}

export interface LockHandle {
  path: string;
  /** Takes the lock away and removes the state directory / root again if we created them and they are empty. */
  release(): Promise<void>;
}

async function ownIdentity(): Promise<string | null> {
  try {
    return await (await getBackend()).identityOf(process.pid);
  } catch {
    return null;
  }
}

async function holderAlive(info: LockInfo): Promise<boolean> {
  if (info.pid === process.pid) return false;
  try {
    const key = await (await getBackend()).identityOf(info.pid);
    if (key === null) return false;
    return info.startKey === null || key === info.startKey;
  } catch {
    return true;
  }
}

/**
 * One upgrader per install: `<root>/.llm-upgrade/lock` holds pid + start time. The file is
 * created complete (written aside, then hard-linked into place, which fails if it exists), so a
 * reader never sees half a lock. A lock whose holder is gone (or whose pid now names another
 * process) is stale and taken over.
 */
export async function acquireLock(root: string, command: string): Promise<LockHandle> {
  const paths = statePaths(root);
  let createdRoot: string | undefined;
  let createdState = false;
  try {
    createdRoot = await mkdir(root, { recursive: true });
    createdState = (await mkdir(paths.state, { recursive: true })) !== undefined;
  } catch (e) {
    throw toLlmUpgradeError(e, 'lock', false);
  }
  const info: LockInfo = { pid: process.pid, startKey: await ownIdentity(), command, since: new Date().toISOString() };
  const tmp = `${paths.lock}.${process.pid}.${randomBytes(4).toString('hex')}`;
  const cleanupDirs = async () => {
    if (createdState) await rmdir(paths.state).catch(() => undefined);
    if (createdRoot === undefined) return;
    // mkdir -p created createdRoot and everything below it down to root: remove that chain if empty.
    for (let dir = root; dir.length >= createdRoot.length; dir = dirname(dir)) {
      if (!(await rmdir(dir).then(() => true, () => false))) break;
      if (dir === createdRoot) break;
    }
  };
  try {
    const fh = await open(tmp, 'wx', 0o644);
    await fh.writeFile(`${JSON.stringify(info)}\n`);
    await fh.sync();
    await fh.close();
    for (let attempt = 0; ; attempt++) {
      try {
        await link(tmp, paths.lock);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 5) throw e;
      }
      let holder: LockInfo | null = null;
      try {
        holder = JSON.parse(await readFile(paths.lock, 'utf8')) as LockInfo;
      } catch {
        holder = null;
      }
      if (holder && (await holderAlive(holder))) {
        throw new LlmUpgradeError({
          code: 'ERR_LOCKED',
          message: `another upgrader (pid ${holder.pid}, "${holder.command}", since ${holder.since}) holds ${paths.lock}`,
          hint: `Wait for pid ${holder.pid} to finish; the lock is taken over automatically once that process is gone.`,
          phase: 'lock',
          changed: false,
          details: { pid: holder.pid, command: holder.command, since: holder.since, lock: paths.lock },
        });
      }
      // Stale: move it aside (only one contender wins the rename), then try again.
      const aside = `${paths.lock}.stale-${process.pid}`;
      try {
        await rename(paths.lock, aside);
        await unlink(aside);
      } catch {
        // someone else took it over first; the next link attempt decides
      }
    }
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    await cleanupDirs();
    throw toLlmUpgradeError(e, 'lock', false);
  }
  await unlink(tmp).catch(() => undefined);
  return {
    path: paths.lock,
    async release() {
      try {
        const cur = JSON.parse(await readFile(paths.lock, 'utf8')) as LockInfo;
        if (cur.pid === process.pid) await unlink(paths.lock);
      } catch {
        // already gone
      }
      await cleanupDirs();
    },
  };
}
