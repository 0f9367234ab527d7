import { lstat, mkdir, rename, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fsyncDir, isDirectory, isEmptyDir, lexists, moveInto, walk } from '../fsutil.js';
import type { JournalWriter, MoveOp } from '../journal.js';
import { STATE_DIR } from '../installed.js';
import type { UpgradeEventSink } from '../events.js';

const SKIP = new Set([STATE_DIR]);

const abs = (base: string, rel: string) => join(base, ...rel.split('/'));

/**
 * The moves that turn the root into exactly the staged tree: every existing file goes to the
 * backup (replaced or removed alike, so the backup is the whole old version), directories in
 * the way of a new file go, missing directories are made, then every staged entry moves in.
 */
export async function planMoves(root: string, stageDir: string): Promise<MoveOp[]> {
  const current = await walk(root, SKIP);
  const staged = (await walk(stageDir)).filter((e) => e.kind !== 'dir').map((e) => e.path);
  const stagedSet = new Set(staged);
  const currentDirs = new Set(current.filter((e) => e.kind === 'dir').map((e) => e.path));
  const backups: MoveOp[] = current.filter((e) => e.kind !== 'dir').map((e) => ({ op: 'backup', path: e.path }));
  const doomedDirs = [...currentDirs].filter((d) => {
    for (let p = d; p; p = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : '') if (stagedSet.has(p)) return true;
    return false;
  });
  doomedDirs.sort((a, b) => b.split('/').length - a.split('/').length || (a < b ? -1 : 1));
  const remaining = new Set([...currentDirs].filter((d) => !doomedDirs.includes(d)));
  const needed = new Set<string>();
  for (const p of staged) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) needed.add(parts.slice(0, i).join('/'));
  }
  const mkdirs = [...needed].filter((d) => !remaining.has(d)).sort((a, b) => a.split('/').length - b.split('/').length || (a < b ? -1 : 1));
  return [
    ...backups,
    ...doomedDirs.map((path): MoveOp => ({ op: 'rmdir', path })),
    ...mkdirs.map((path): MoveOp => ({ op: 'mkdir', path })),
    ...staged.map((path): MoveOp => ({ op: 'install', path })),
  ];
}

interface Dirs {
  root: string;
  stageDir: string;
  backupDir: string;
}

/** Does op forward; a no-op when the disk shows it done already. Returns the directories whose entries changed. */
async function forward(op: MoveOp, d: Dirs): Promise<string[]> {
  const target = abs(d.root, op.path);
  switch (op.op) {
    case 'backup': {
      const to = abs(d.backupDir, op.path);
      if (await lexists(target)) {
        await moveInto(target, to);
        return [dirname(target), dirname(to)];
      }
      return [];
    }
    case 'rmdir':
      if (await isDirectory(target)) {
        await rmdir(target);
        return [dirname(target)];
      }
      return [];
    case 'mkdir':
      if (!(await isDirectory(target))) {
        await mkdir(target);
        return [dirname(target)];
      }
      return [];
    case 'install': {
      const from = abs(d.stageDir, op.path);
      if (await lexists(from)) {
        await rename(from, target);
        return [dirname(target), dirname(from)];
      }
      return [];
    }
  }
}

/** Undoes op; a no-op when the disk shows it was never done (or is undone already). */
async function backward(op: MoveOp, d: Dirs): Promise<string[]> {
  const target = abs(d.root, op.path);
  switch (op.op) {
    case 'install': {
      const stage = abs(d.stageDir, op.path);
      if (!(await lexists(stage)) && (await lexists(target))) {
        await moveInto(target, stage);
        return [dirname(target), dirname(stage)];
      }
      return [];
    }
    case 'mkdir':
      if ((await isDirectory(target)) && (await isEmptyDir(target))) {
        await rmdir(target);
        return [dirname(target)];
      }
      return [];
    case 'rmdir':
      if (!(await lexists(target))) {
        await mkdir(target, { recursive: true });
        return [dirname(target)];
      }
      return [];
    case 'backup': {
      const from = abs(d.backupDir, op.path);
      if ((await lexists(from)) && !(await lexists(target))) {
        await moveInto(from, target);
        return [dirname(target), dirname(from)];
      }
      return [];
    }
  }
}

async function syncAll(dirs: Set<string>): Promise<void> {
  for (const dir of dirs) {
    if (await lstat(dir).then((s) => s.isDirectory(), () => false)) await fsyncDir(dir);
  }
}

/** Journal writes during the swap: one per move for small packages, at most ~16 for big ones (each costs an fsync pair). */
export function stepSize(total: number): number {
  return Math.max(1, Math.ceil(total / 16));
}

/** Runs the journal's moves from `done` on, rewriting the journal after each step. */
export async function runForward(writer: JournalWriter, onEvent?: UpgradeEventSink): Promise<void> {
  const j = writer.journal;
  const d: Dirs = { root: j.root, stageDir: j.stageDir, backupDir: j.backupDir };
  const step = stepSize(j.ops.length);
  const touched = new Set<string>();
  for (let i = j.done; i < j.ops.length; ) {
    const end = Math.min(j.ops.length, i + step);
    for (; i < end; i++) for (const dir of await forward(j.ops[i]!, d)) touched.add(dir);
    await syncAll(touched);
    touched.clear();
    await writer.write({ done: i });
    onEvent?.({ type: 'swap', done: i, total: j.ops.length });
  }
}

/** Undoes every move in reverse, checking the disk for each: safe to repeat after a crash. */
export async function runBackward(d: Dirs, ops: MoveOp[]): Promise<number> {
  const touched = new Set<string>();
  let moved = 0;
  for (let i = ops.length - 1; i >= 0; i--) {
    const dirs = await backward(ops[i]!, d);
    if (dirs.length) moved++;
    for (const dir of dirs) touched.add(dir);
  }
  await syncAll(touched);
  return moved;
}
