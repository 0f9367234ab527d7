import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rm, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** fsync a directory so a rename inside it survives power loss (a no-op where unsupported). */
export async function fsyncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, constants.O_RDONLY);
    await fh.sync();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // Windows cannot open directories; some file systems refuse fsync on them.
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EACCES') throw e;
  } finally {
    await fh?.close();
  }
}

/** Write, fsync, rename over, fsync the directory: the file is either old or new after a crash. */
export async function atomicWriteFile(path: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    // A full disk must not leave a half-written temporary file behind.
    await rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  await fh.close();
  await rename(tmp, path);
  await fsyncDir(dirname(path));
}

export async function lexists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return false;
    throw e;
  }
}

export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isDirectory();
  } catch {
    return false;
  }
}

export async function isEmptyDir(path: string): Promise<boolean> {
  try {
    return (await readdir(path)).length === 0;
  } catch {
    return false;
  }
}

/**
 * mkdir -p one level at a time: Node's recursive mkdir reports a full disk (no inode left) as
 * ENOENT, this reports ENOSPC.
 */
export async function mkdirp(dir: string): Promise<void> {
  try {
    await mkdir(dir);
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    if (code !== 'ENOENT' || dirname(dir) === dir) throw e;
  }
  await mkdirp(dirname(dir));
  try {
    await mkdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
}

export async function removeTree(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true, maxRetries: 3 });
}

/** Rename, creating the destination's parent directories first. */
export async function moveInto(from: string, to: string): Promise<void> {
  await mkdir(dirname(to), { recursive: true });
  await rename(from, to);
}

export interface WalkEntry {
  /** POSIX path relative to the walked directory. */
  path: string;
  kind: 'file' | 'symlink' | 'dir' | 'other';
}

/** Every entry under dir (files, links, directories; not following links), skipping top-level names in `skip`. */
export async function walk(dir: string, skip: ReadonlySet<string> = new Set()): Promise<WalkEntry[]> {
  const out: WalkEntry[] = [];
  const visit = async (rel: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(rel ? join(dir, rel) : dir, { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const ent of entries) {
      if (!rel && skip.has(ent.name)) continue;
      const relPath = rel ? `${rel}/${ent.name}` : ent.name;
      if (ent.isDirectory()) {
        out.push({ path: relPath, kind: 'dir' });
        await visit(relPath);
      } else if (ent.isSymbolicLink()) out.push({ path: relPath, kind: 'symlink' });
      else if (ent.isFile()) out.push({ path: relPath, kind: 'file' });
      else out.push({ path: relPath, kind: 'other' });
    }
  };
  await visit('');
  return out;
}

/** Remove now-empty directories under root (deepest first), never root itself nor skipped top-level names. */
export async function pruneEmptyDirs(root: string, skip: ReadonlySet<string>): Promise<void> {
  const dirs = (await walk(root, skip)).filter((e) => e.kind === 'dir').map((e) => e.path);
  dirs.sort((a, b) => b.split('/').length - a.split('/').length);
  for (const d of dirs) {
    try {
      await rmdir(join(root, d));
    } catch {
      // not empty: keep
    }
  }
}
