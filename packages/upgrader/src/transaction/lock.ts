import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { link, mkdir, open, readFile, rename, rmdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DEFAULTS, getBackend, toLlmUpgradeError, errors } from '@llm-upgrade/core';
import { statePaths } from '../paths.js';

export interface LockInfo {
  pid: number;
  startKey: string | null;
  /** The machine the holder runs on (a root on a shared file system): its pid means nothing elsewhere. */
  hostname?: string;
  command: string;
  since: string;
  /** Unique per acquisition: tells our lock from a later one by the same pid. */
  nonce?: string;
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

/** Alive unless proven gone: same host, and that pid is gone or now has another start time. */
async function holderAlive(info: LockInfo): Promise<boolean> {
  if (info.hostname !== undefined && info.hostname !== hostname()) return true;
  if (info.pid === process.pid) return false;
  try {
    const key = await (await getBackend()).identityOf(info.pid);
    if (key === null) return false;
    return info.startKey === null || key === info.startKey;
  } catch {
    return true;
  }
}

type Read = { kind: 'absent' } | { kind: 'unreadable'; why: string } | { kind: 'ok'; text: string; info: LockInfo };

async function readLockFile(path: string): Promise<Read> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'absent' };
    return { kind: 'unreadable', why: (e as Error).message };
  }
  try {
    const info = JSON.parse(text) as LockInfo;
    if (typeof info.pid !== 'number' || !Number.isInteger(info.pid)) return { kind: 'unreadable', why: 'no pid in it' };
    return { kind: 'ok', text, info };
  } catch (e) {
    return { kind: 'unreadable', why: `not JSON (${(e as Error).message})` };
  }
}

/**
 * Removes `path` only if it still holds exactly `text`: renamed aside first (atomic: we get
 * that one inode), compared, and put back when it turned out to be someone else's.
 */
async function removeIfUnchanged(path: string, text: string): Promise<void> {
  const aside = `${path}.aside-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await rename(path, aside);
  } catch {
    return; // gone already: someone else removed it
  }
  const now = await readFile(aside, 'utf8').catch(() => null);
  if (now !== text) await link(aside, path).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One upgrader per install: `<root>/.llm-upgrade/lock` holds pid, start time and host. It is
 * created complete (written aside, then hard-linked into place, which fails if a lock exists),
 * so a reader never sees half a lock. A lock is stale only when its holder is proven gone (same
 * host; that pid is gone or has another start time); an unreadable lock or one from another host
 * is never taken over. Taking over a stale lock happens under `lock.takeover`, created with
 * O_EXCL, which re-checks that the lock is still the stale one before removing it: of any number
 * of contenders exactly one ends up holding the lock.
 */
export async function acquireLock(root: string, command: string): Promise<LockHandle> {
  const paths = statePaths(root);
  const takeoverPath = `${paths.lock}.takeover`;
  let createdRoot: string | undefined;
  let createdState = false;
  try {
    createdRoot = await mkdir(root, { recursive: true });
    createdState = (await mkdir(paths.state, { recursive: true })) !== undefined;
  } catch (e) {
    throw toLlmUpgradeError(e, 'lock', false);
  }
  const info: LockInfo = {
    pid: process.pid,
    startKey: await ownIdentity(),
    hostname: hostname(),
    command,
    since: new Date().toISOString(),
    nonce: randomBytes(8).toString('hex'),
  };
  const infoText = `${JSON.stringify(info)}\n`;
  const tmp = `${paths.lock}.${process.pid}.${randomBytes(4).toString('hex')}`;
  const cleanupDirs = async () => {
    if (createdState) await rmdir(paths.state).catch(() => undefined);
    if (createdRoot === undefined) return;
    // mkdir -p created createdRoot and everything below it down to root: remove that chain if empty.
    for (let dir = root; dir.length >= createdRoot.length; dir = dirname(dir)) {
      if (
        !(await rmdir(dir).then(
          () => true,
          () => false,
        ))
      )
        break;
      if (dir === createdRoot) break;
    }
  };
  const locked = (holder: LockInfo, why: string) =>
    errors.lockedError({
      message: `another upgrader (pid ${holder.pid}${holder.hostname && holder.hostname !== hostname() ? ` on ${holder.hostname}` : ''}, "${holder.command}", since ${holder.since}) holds ${paths.lock}`,
      hint: why,
      phase: 'lock',
      changed: false,
      details: {
        pid: holder.pid,
        command: holder.command,
        since: holder.since,
        lock: paths.lock,
        ...(holder.hostname ? { hostname: holder.hostname } : {}),
      },
    });
  try {
    const fh = await open(tmp, 'wx', 0o644);
    await fh.writeFile(infoText);
    await fh.sync();
    await fh.close();
    for (let attempt = 0; ; attempt++) {
      if (attempt > DEFAULTS.lockAttempts) throw new Error(`could not take ${paths.lock} after ${attempt} attempts`);
      try {
        await link(tmp, paths.lock);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const cur = await readLockFile(paths.lock);
      if (cur.kind === 'absent') continue;
      if (cur.kind === 'unreadable') {
        throw errors.lockedError({
          message: `${paths.lock} exists but cannot be read (${cur.why}); it is not taken over`,
          hint: `If no upgrader runs for ${root}, delete ${paths.lock} by hand.`,
          phase: 'lock',
          changed: false,
          details: { lock: paths.lock },
        });
      }
      if (await holderAlive(cur.info)) {
        const other = cur.info.hostname !== undefined && cur.info.hostname !== hostname();
        throw locked(
          cur.info,
          other
            ? `It runs on another machine; if it no longer runs there, delete ${paths.lock} by hand.`
            : `Wait for pid ${cur.info.pid} to finish; the lock is taken over automatically once that process is gone.`,
        );
      }
      // Stale: take it over under an exclusive takeover file.
      let mine;
      try {
        mine = await open(takeoverPath, 'wx', 0o644);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        const t = await readLockFile(takeoverPath);
        // A takeover left by a contender that died: remove exactly that one.
        if (t.kind === 'ok' && !(await holderAlive(t.info))) await removeIfUnchanged(takeoverPath, t.text);
        else await sleep(5 + Math.random() * 20);
        continue;
      }
      try {
        await mine.writeFile(infoText);
        await mine.close();
        const again = await readLockFile(paths.lock);
        if (again.kind === 'ok' && again.text === cur.text) await removeIfUnchanged(paths.lock, cur.text);
      } finally {
        await unlink(takeoverPath).catch(() => undefined);
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
      const cur = await readLockFile(paths.lock);
      if (cur.kind === 'ok' && cur.info.pid === process.pid && cur.info.nonce === info.nonce) await removeIfUnchanged(paths.lock, cur.text);
      await cleanupDirs();
    },
  };
}
