import { readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ListeningSocket, ServiceRef } from '@llm-upgrade/core';
import { atomicWriteFile, fsyncDir } from '../fsutil.js';
import type { Manifest } from '../manifest.js';
import type { UpgradeEventSink } from '../events.js';

/**
 * The journal (`<root>/.llm-upgrade/journal.json`) is the transaction's write-ahead record:
 * the full list of moves is written (tmp + fsync + rename + fsync dir) *before* the first move,
 * and progress is rewritten after each step. Every move is a rename between two names only this
 * transaction uses, so its state can be read off the disk: replays check the disk, never trust
 * the counter alone, and can run any number of times.
 */
export type JournalState = 'stopping' | 'swapping' | 'checking' | 'rolling-back' | 'committed';

export type MoveOp =
  /** root/p → backupDir/p (every existing file: replaced or removed). */
  | { op: 'backup'; path: string }
  /** Remove a directory where the new version has a file (empty once its files are backed up). */
  | { op: 'rmdir'; path: string }
  /** Create a directory the new version needs. */
  | { op: 'mkdir'; path: string }
  /** stageDir/p → root/p. */
  | { op: 'install'; path: string }
  /** backupDir/p → root/p after the installs: a user's entry inside a package directory stays with the new version. */
  | { op: 'carry'; path: string };

/** A top-level process of the install as it ran before the stop: restart starts it again the same way. */
export interface RecordedProcess {
  pid: number;
  startKey: string;
  name: string;
  role: string;
  /** Its executable (under a root): after the swap the same path names the new version. */
  exe: string | null;
  argv: string[];
  cwd: string | null;
  env: Record<string, string> | null;
  uid: number | null;
  gid: number | null;
  /** TCP sockets it (or its children) listened on. */
  listening: ListeningSocket[];
  /** The regular file its stderr/stdout went to, when it did. */
  logFile: string | null;
}

/** The health gate's reference, measured before the stop. */
export interface HealthPlan {
  url: string;
  /** socket: where the server listened; OLLAMA_HOST: from its environment; profile: the profile's URL. */
  source: 'socket' | 'OLLAMA_HOST' | 'profile';
  answeredBefore: boolean;
  versionBefore: string | null;
}

/** What was running before the stop and how to start it again. */
export interface RestartPlan {
  wasRunning: boolean;
  services: ServiceRef[];
  /** The profile's start command: used when no process could be recorded. */
  command?: string[];
  healthUrl?: string;
  processes?: RecordedProcess[];
  health?: HealthPlan | null;
}

export interface Journal {
  format: 1;
  txid: string;
  kind: 'apply' | 'rollback';
  state: JournalState;
  /** Number of journal writes so far (the test hooks count these). */
  seq: number;
  root: string;
  stageDir: string;
  backupDir: string;
  from: string | null;
  to: string | null;
  /** installed.json before (becomes the kept backup's meta). */
  fromManifest: Manifest | null;
  /** written to installed.json at commit (null: the version is unknown, installed.json is removed). */
  toManifest: Manifest | null;
  restart: RestartPlan;
  ops: MoveOp[];
  /** ops[0..done) are known done (a replay still checks the disk). */
  done: number;
  owner: { pid: number; startKey: string | null };
  updatedAt: string;
}

export async function readJournal(path: string): Promise<Journal | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const j = JSON.parse(text) as Journal;
  if (j.format !== 1 || !Array.isArray(j.ops)) throw new Error(`${path}: unknown journal format`);
  return j;
}

export async function deleteJournal(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  await fsyncDir(dirname(path));
}

/** Test-only crash injection (documented in the README): kill -9 ourselves, or hang, right after journal write N. */
async function testHooks(seq: number, onEvent?: UpgradeEventSink): Promise<void> {
  const crashAt = process.env.LLM_UPGRADE_TEST_CRASH_AT_STEP;
  if (crashAt && Number(crashAt) === seq) process.kill(process.pid, 'SIGKILL');
  const pauseAt = process.env.LLM_UPGRADE_TEST_PAUSE_AT_STEP;
  if (pauseAt && Number(pauseAt) === seq) {
    onEvent?.({ type: 'test-paused', step: seq });
    await new Promise<never>(() => {
      setInterval(() => undefined, 1 << 30);
    });
  }
}

export class JournalWriter {
  constructor(
    readonly path: string,
    public journal: Journal,
    private readonly onEvent?: UpgradeEventSink,
  ) {}

  async write(patch: Partial<Journal> = {}): Promise<void> {
    this.journal = { ...this.journal, ...patch, seq: this.journal.seq + 1, updatedAt: new Date().toISOString() };
    // 0600: it records the server's environment.
    await atomicWriteFile(this.path, `${JSON.stringify(this.journal)}\n`, 0o600);
    // The moves once, when they are journaled: --log-file then records exactly what the swap does.
    this.onEvent?.({
      type: 'journal',
      seq: this.journal.seq,
      state: this.journal.state,
      done: this.journal.done,
      ...(patch.ops ? { ops: this.journal.ops } : {}),
    });
    await testHooks(this.journal.seq, this.onEvent);
  }
}
