import { chmod, lchown, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { walk } from '../fsutil.js';
import type { Manifest } from '../manifest.js';

const abs = (base: string, rel: string) => join(base, ...rel.split('/'));

/**
 * Makes the staged tree independent of the upgrader's umask and faithful to what it replaces:
 * a directory gets the mode of the directory it replaces (a new one 0755), a file its manifest
 * mode; an entry that replaces one keeps that entry's owner and group (when we may chown).
 */
export async function applyModesAndOwners(root: string, staging: string, manifest: Manifest): Promise<void> {
  const fileModes = new Map(manifest.files.map((f) => [f.path, f.mode & 0o777]));
  const canChown = process.getuid?.() === 0;
  for (const e of await walk(staging)) {
    const staged = abs(staging, e.path);
    const old = await lstat(abs(root, e.path)).catch(() => null);
    if (canChown && old) {
      const st = await lstat(staged);
      if (st.uid !== old.uid || st.gid !== old.gid) await lchown(staged, old.uid, old.gid);
    }
    if (e.kind === 'dir') await chmod(staged, old?.isDirectory() ? old.mode & 0o7777 : 0o755);
    // chown clears set-id bits: the manifest's mode goes on last.
    else if (e.kind === 'file') await chmod(staged, fileModes.get(e.path) ?? 0o644);
  }
}
