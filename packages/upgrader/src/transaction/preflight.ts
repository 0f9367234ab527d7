import { statfs } from 'node:fs/promises';
import { errors } from '@llm-upgrade/core';

export interface SpaceNeeds {
  /** Files written from the stop to the end of the commit, each at most this many bytes (journal, installed.json, meta.json, logs). */
  fileBytes: number[];
  /** New directories (swap-backup, backup.next) and temporary names (journal tmp). */
  inodes: number;
}

/**
 * The swap itself is renames (no space), but the journal writes, the backup directories and the
 * commit's files need inodes and blocks. Checked before the stop, so a full disk is refused
 * while nothing has changed, never discovered halfway through the swap.
 */
export async function preflightSpace(dir: string, needs: SpaceNeeds): Promise<void> {
  let st;
  try {
    st = await statfs(dir);
  } catch {
    return; // a file system that cannot say: nothing to check against
  }
  const bsize = Number(st.bsize) || 4096;
  const blocks = needs.fileBytes.reduce((n, b) => n + Math.ceil(Math.max(1, b) / bsize), 0) + needs.inodes + 4;
  const needBytes = blocks * bsize;
  const freeBytes = Number(st.bavail) * bsize;
  // files === 0: the file system does not count inodes (btrfs, some FUSE).
  const inodesKnown = Number(st.files) > 0;
  const needInodes = needs.inodes + needs.fileBytes.length + 2;
  const freeInodes = Number(st.ffree);
  const short: string[] = [];
  if (freeBytes < needBytes) short.push(`${needBytes} bytes (${freeBytes} free)`);
  if (inodesKnown && freeInodes < needInodes) short.push(`${needInodes} inodes (${freeInodes} free)`);
  if (short.length === 0) return;
  throw errors.diskFullError({
    message: `${dir}: the swap needs ${short.join(' and ')} for its journal and backup; nothing was stopped or swapped`,
    hint: 'Free space (or inodes) on the install volume and run the upgrade again; the install is unchanged.',
    phase: 'stage',
    changed: false,
    details: { dir, needBytes, freeBytes, needInodes, freeInodes: inodesKnown ? freeInodes : null },
  });
}
