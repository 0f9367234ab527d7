// What WE froze, on disk while it is frozen: `<runtime dir>/llm-upgrade-frozen/<our pid>.json`
// lists each process we sent SIGSTOP (pid + start time) and who we are. If we die before the
// SIGCONT (SIGKILL, power cut of the session), `recover`/`apply` thaw exactly those processes
// (thawRecorded) and never a process a user stopped on purpose (Ctrl-Z).
import { lstatSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface FrozenEntry {
  pid: number;
  startKey: string;
}

interface FrozenFile {
  owner: FrozenEntry;
  frozen: FrozenEntry[];
}

/** Per-user runtime dir (XDG_RUNTIME_DIR), else the temp dir; override with LLM_UPGRADE_FROZEN_DIR (tests). */
export function frozenRecordDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.LLM_UPGRADE_FROZEN_DIR || join(env.XDG_RUNTIME_DIR || tmpdir(), 'llm-upgrade-frozen');
}

const ownedByUs = (path: string): boolean => {
  try {
    const st = lstatSync(path);
    const uid = process.geteuid?.();
    return uid === undefined || st.uid === uid;
  } catch {
    return false;
  }
};

/** Writes (replaces) our record. Best effort: a record we cannot write never blocks a stop. */
export function writeFrozenRecord(owner: FrozenEntry, frozen: readonly FrozenEntry[]): void {
  const dir = frozenRecordDir();
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!ownedByUs(dir)) return; // someone else's directory: never trust or write it
    const file = join(dir, `${owner.pid}.json`);
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, JSON.stringify({ owner, frozen: [...frozen] } satisfies FrozenFile), { mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    // read-only or full temp dir: the in-process SIGCONT still runs
  }
}

export function removeFrozenRecord(ownerPid: number): void {
  rmSync(join(frozenRecordDir(), `${ownerPid}.json`), { force: true });
}

export interface RecordedFrozen {
  file: string;
  owner: FrozenEntry;
  frozen: FrozenEntry[];
}

/** Records whose file and directory belong to us (others' are ignored: anyone can write /tmp). */
export function readFrozenRecords(): RecordedFrozen[] {
  const dir = frozenRecordDir();
  if (!ownedByUs(dir)) return [];
  const out: RecordedFrozen[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  for (const name of names) {
    if (!/^\d+\.json$/.test(name)) continue;
    const file = join(dir, name);
    if (!ownedByUs(file)) continue;
    try {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as FrozenFile;
      if (typeof parsed.owner?.pid !== 'number' || !Array.isArray(parsed.frozen)) continue;
      out.push({
        file,
        owner: parsed.owner,
        frozen: parsed.frozen.filter((e) => typeof e.pid === 'number' && typeof e.startKey === 'string'),
      });
    } catch {
      // half-written or foreign: skip
    }
  }
  return out;
}
