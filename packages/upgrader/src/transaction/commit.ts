import { readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { atomicWriteFile, lexists, mkdirp, removeTree } from '../fsutil.js';
import { deleteJournal, type Journal } from './journal.js';
import type { Manifest } from '../manifest.js';
import { statePaths } from '../paths.js';

/** `<root>/.llm-upgrade/backup/meta.json`: which version the kept backup holds. */
export interface BackupMeta {
  version: string | null;
  manifest: Manifest | null;
  replacedBy: string | null;
  committedAt: string;
}

export async function readBackupMeta(root: string): Promise<BackupMeta | null> {
  try {
    return JSON.parse(await readFile(statePaths(root).backupMeta, 'utf8')) as BackupMeta;
  } catch {
    return null;
  }
}

/**
 * Everything after the point of no return, idempotent step by step (a crash anywhere in here is
 * finished by `recover`): installed.json, the swap backup becomes the one kept backup, staging
 * and the journal go.
 */
export async function finishCommit(j: Journal): Promise<void> {
  const p = statePaths(j.root);
  if (j.toManifest) await atomicWriteFile(p.installed, `${JSON.stringify({ ...j.toManifest, installedAt: j.updatedAt }, null, 2)}\n`);
  else await unlink(p.installed).catch(() => undefined);

  const nextMeta = join(p.backupNext, 'meta.json');
  if (await lexists(j.backupDir)) {
    await mkdirp(p.backupNext);
    await rename(j.backupDir, join(p.backupNext, 'files'));
  }
  if ((await lexists(p.backupNext)) && !(await lexists(nextMeta))) {
    const meta: BackupMeta = { version: j.from, manifest: j.fromManifest, replacedBy: j.to, committedAt: j.updatedAt };
    await atomicWriteFile(nextMeta, `${JSON.stringify(meta, null, 2)}\n`);
  }
  if (await lexists(p.backupNext)) {
    await removeTree(p.backup);
    await rename(p.backupNext, p.backup);
  }
  if (j.kind === 'apply') await removeTree(j.stageDir);
  await deleteJournal(p.journal);
}
