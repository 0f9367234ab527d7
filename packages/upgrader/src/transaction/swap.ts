import { lstatSync, mkdirSync, readdirSync, renameSync, rmdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readdir } from 'node:fs/promises';
import { fsyncDir } from '../fsutil.js';
import type { JournalWriter, MoveOp } from './journal.js';
import { STATE_DIR } from '../installed.js';
import type { UpgradeEventSink } from '../events.js';

const SKIP = new Set([STATE_DIR]);

const abs = (base: string, rel: string) => join(base, ...rel.split('/'));

/** What the new tree holds, read off the staging directory or derived from a manifest before anything is staged. */
export interface StagedTree {
  /** Names at the top of the tree, sorted. */
  top(): Promise<string[]>;
  has(rel: string): boolean;
  isDir(rel: string): boolean;
}

/** The staging directory as it is on disk. */
export function stagedOnDisk(stageDir: string): StagedTree {
  return {
    top: async () => {
      try {
        return (await readdir(stageDir)).sort();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw e;
      }
    },
    has: (rel) => lexistsSync(abs(stageDir, rel)),
    isDir: (rel) => isDirSync(abs(stageDir, rel)),
  };
}

/**
 * The tree `stagePackage` will write for these paths (the manifest's files and links, and the
 * directories above them; nothing else): a dry run plans the same moves without staging.
 */
export function stagedFromPaths(paths: readonly string[]): StagedTree {
  const entries = new Set(paths);
  const dirs = new Set<string>();
  for (const p of paths) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  return {
    top: async () => [...new Set([...entries, ...dirs].map((p) => p.split('/')[0]!))].sort(),
    has: (rel) => entries.has(rel) || dirs.has(rel),
    isDir: (rel) => dirs.has(rel),
  };
}

/**
 * The moves that turn the root into the staged tree. The package owns what its manifests
 * listed: entries of the root named in `owned` (top-level names of the installed manifest) or
 * replaced by a staged entry go to the backup — the backup is the whole old version — and
 * everything staged moves in. Entries no manifest listed (a user's config.yaml, models/) stay
 * in place. `owned` null (a root we did not install, taken over with --adopt): every entry is
 * the product's. Moves are per entry at the top of the root — a directory moves as one rename
 * with all its files — so the swap's length does not grow with the file count. The plan
 * (`planApply`, the dry run) and the swap both call this: the journal holds what the plan showed.
 */
export async function planMoves(
  root: string,
  staging: string | StagedTree,
  owned: ReadonlySet<string> | null = null,
  listed: ReadonlySet<string> | null = null,
  units: readonly string[] | null = null,
): Promise<MoveOp[]> {
  const tree = typeof staging === 'string' ? stagedOnDisk(staging) : staging;
  if (units) return planUnitMoves(root, tree, listed, units);
  let names: string[];
  try {
    names = await readdir(root);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    names = [];
  }
  const staged = await tree.top();
  const stagedSet = new Set(staged);
  const current = names
    .filter((n) => !SKIP.has(n))
    .sort()
    .filter((n) => owned === null || owned.has(n) || stagedSet.has(n));
  const carries = listed
    ? await userEntriesInside(
        root,
        tree,
        current.filter((n) => stagedSet.has(n)),
        listed,
      )
    : [];
  return [
    ...current.map((path): MoveOp => ({ op: 'backup', path })),
    ...staged.map((path): MoveOp => ({ op: 'install', path })),
    ...carries.map((path): MoveOp => ({ op: 'carry', path })),
  ];
}

/**
 * A prefix layout (`bin/ollama` + `lib/ollama` under `/usr/local`): the units are the moves,
 * one rename each, so siblings such as `bin/othertool` are never touched.
 */
async function planUnitMoves(
  root: string,
  tree: StagedTree,
  listed: ReadonlySet<string> | null,
  units: readonly string[],
): Promise<MoveOp[]> {
  const current = units.filter((u) => lexistsSync(abs(root, u)));
  const staged = units.filter((u) => tree.has(u));
  const carries = listed
    ? await userEntriesInside(
        root,
        tree,
        current.filter((u) => staged.includes(u)),
        listed,
      )
    : [];
  return [
    ...current.map((path): MoveOp => ({ op: 'backup', path })),
    ...staged.map((path): MoveOp => ({ op: 'install', path })),
    ...carries.map((path): MoveOp => ({ op: 'carry', path })),
  ];
}

/**
 * Entries inside the package's directories that no manifest listed (a user's `lib/ollama/mine`):
 * the largest such subtrees whose parent directory the new version has too and which it does
 * not itself provide. They are carried over into the new tree after the installs.
 */
async function userEntriesInside(root: string, tree: StagedTree, tops: string[], listed: ReadonlySet<string>): Promise<string[]> {
  const ancestors = new Set<string>();
  for (const p of listed) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) ancestors.add(parts.slice(0, i).join('/'));
  }
  const out: string[] = [];
  const visit = async (rel: string): Promise<void> => {
    let names: string[];
    try {
      names = (await readdir(abs(root, rel))).sort();
    } catch {
      return; // not a directory (or gone)
    }
    for (const name of names) {
      const p = `${rel}/${name}`;
      if (listed.has(p)) continue;
      if (ancestors.has(p)) {
        if (isDirSync(abs(root, p))) await visit(p);
        continue;
      }
      if (!tree.has(p) && tree.isDir(p.slice(0, p.lastIndexOf('/')))) out.push(p);
    }
  };
  for (const top of tops) if (ancestors.has(top) && isDirSync(abs(root, top))) await visit(top);
  return out;
}

interface Dirs {
  root: string;
  stageDir: string;
  backupDir: string;
}

// The swap is the downtime: its file operations are synchronous on purpose (no thread-pool
// round trip per rename; nothing else runs meanwhile), and parent directories are created once.
function lexistsSync(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw e;
  }
}

function isDirSync(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}

class Mover {
  private readonly made = new Set<string>();
  readonly touched = new Set<string>();

  move(from: string, to: string): void {
    const parent = dirname(to);
    if (!this.made.has(parent)) {
      mkdirSync(parent, { recursive: true });
      this.made.add(parent);
    }
    renameSync(from, to);
    this.touched.add(parent);
    this.touched.add(dirname(from));
  }
}

/** Does op forward; a no-op when the disk shows it done already. */
function forward(op: MoveOp, d: Dirs, m: Mover): void {
  const target = abs(d.root, op.path);
  switch (op.op) {
    case 'backup': {
      const to = abs(d.backupDir, op.path);
      // The backup directory is new for each transaction: a file there means this move is done
      // (and root/p may already be the *new* file, which must not be moved away).
      if (!lexistsSync(to) && lexistsSync(target)) m.move(target, to);
      return;
    }
    case 'rmdir':
      if (isDirSync(target)) {
        rmdirSync(target);
        m.touched.add(dirname(target));
      }
      return;
    case 'mkdir':
      if (!isDirSync(target)) {
        mkdirSync(target);
        m.touched.add(dirname(target));
      }
      return;
    case 'install': {
      const from = abs(d.stageDir, op.path);
      if (lexistsSync(from)) m.move(from, target);
      return;
    }
    case 'carry': {
      const from = abs(d.backupDir, op.path);
      if (lexistsSync(from) && !lexistsSync(target) && isDirSync(dirname(target))) m.move(from, target);
      return;
    }
  }
}

/** Undoes op; a no-op when the disk shows it was never done (or is undone already). Returns whether it moved anything. */
function backward(op: MoveOp, d: Dirs, m: Mover, backedUp: ReadonlySet<string>): boolean {
  const target = abs(d.root, op.path);
  switch (op.op) {
    case 'install': {
      const stage = abs(d.stageDir, op.path);
      // root/p is the new entry only if the old one (when there was one) is in the backup;
      // otherwise it is the old entry, never backed up, and must stay where it is.
      const oldIsAside = !backedUp.has(op.path) || lexistsSync(abs(d.backupDir, op.path));
      if (oldIsAside && !lexistsSync(stage) && lexistsSync(target)) {
        m.move(target, stage);
        return true;
      }
      return false;
    }
    case 'mkdir':
      if (isDirSync(target) && readdirSync(target).length === 0) {
        rmdirSync(target);
        m.touched.add(dirname(target));
        return true;
      }
      return false;
    case 'rmdir':
      if (!lexistsSync(target)) {
        mkdirSync(target, { recursive: true });
        m.touched.add(dirname(target));
        return true;
      }
      return false;
    case 'backup': {
      const from = abs(d.backupDir, op.path);
      if (lexistsSync(from) && !lexistsSync(target)) {
        m.move(from, target);
        return true;
      }
      return false;
    }
    case 'carry': {
      // Done only if it is in the new tree and its old parent is in the backup to take it back.
      const back = abs(d.backupDir, op.path);
      if (lexistsSync(target) && !lexistsSync(back) && isDirSync(dirname(back))) {
        m.move(target, back);
        return true;
      }
      return false;
    }
  }
}

async function syncAll(dirs: Set<string>): Promise<void> {
  await Promise.all([...dirs].filter((dir) => isDirSync(dir)).map((dir) => fsyncDir(dir)));
}

/** Journal writes during the swap: one per move for small packages, at most ~16 for big ones (each costs an fsync pair). */
export function stepSize(total: number): number {
  return Math.max(1, Math.ceil(total / 16));
}

/**
 * Runs the journal's moves from `done` on, rewriting the journal after each step. Directory
 * fsyncs are batched to the end: correctness never depends on them (every move is read back
 * from the disk), but the "checking" record below must not be durable before the moves are.
 */
export async function runForward(writer: JournalWriter, onEvent?: UpgradeEventSink): Promise<void> {
  const j = writer.journal;
  const d: Dirs = { root: j.root, stageDir: j.stageDir, backupDir: j.backupDir };
  const step = stepSize(j.ops.length);
  const m = new Mover();
  for (let i = j.done; i < j.ops.length; ) {
    const end = Math.min(j.ops.length, i + step);
    for (; i < end; i++) forward(j.ops[i]!, d, m);
    await writer.write({ done: i });
    onEvent?.({ type: 'swap', done: i, total: j.ops.length });
  }
  await syncAll(m.touched);
}

/**
 * Undoes every move in reverse, checking the disk for each: safe to repeat after a crash. Only
 * renames (into directories that exist), so it works on a full disk, with no inode to spare.
 */
export async function runBackward(d: Dirs, ops: MoveOp[]): Promise<number> {
  const m = new Mover();
  let moved = 0;
  const backedUp = new Set(ops.filter((o) => o.op === 'backup').map((o) => o.path));
  // Test-only (README): kill -9 ourselves after this many undone moves, to prove the undo can be cut short.
  const crashAfter = Number(process.env.LLM_UPGRADE_TEST_CRASH_IN_UNDO_AFTER ?? 0);
  for (let i = ops.length - 1; i >= 0; i--) {
    if (backward(ops[i]!, d, m, backedUp)) moved++;
    if (crashAfter > 0 && moved === crashAfter) process.kill(process.pid, 'SIGKILL');
  }
  await syncAll(m.touched);
  return moved;
}
