import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ProcessInfo, Snapshot } from '../../types.js';
import { scanWindowsHolders, UNATTRIBUTED } from './holders.js';
import { probeRename, PROBE_SUFFIX, type RenameFs } from './rename-probe.js';
import { walkFiles } from './walk.js';
import { ERROR_SUCCESS, type RestartManagerApi, type RmProcessInfo } from './winapi.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'llmu-win-holders-'));
  mkdirSync(join(dir, 'lib', 'ollama'), { recursive: true });
  mkdirSync(join(dir, '.llm-upgrade'));
  for (const f of [
    'ollama.exe',
    'lib/ollama/llama-server.exe',
    'lib/ollama/ggml-cuda.dll',
    'model.gguf',
    'notes.txt',
    '.llm-upgrade/journal.json',
  ])
    writeFileSync(join(dir, f), f);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const key = (p: string) => p.toLowerCase();
const proc = (pid: number, exe: string | null, startKey = `${pid}00`): ProcessInfo => ({
  pid,
  ppid: 0,
  name: exe?.split(/[\\/]/).pop() ?? `p${pid}`,
  exe,
  cmdline: [],
  startTime: 0,
  startKey,
  user: null,
});

/** RM answering from a file → users table, one session at a time. */
function rmOver(table: Map<string, RmProcessInfo[]>, fail?: number): RestartManagerApi {
  let files: readonly string[] = [];
  return {
    startSession: () => ({ error: fail ?? ERROR_SUCCESS, session: 1 }),
    registerFiles: (_s, f) => {
      files = f;
      return ERROR_SUCCESS;
    },
    getList: () => {
      const found = new Map<number, RmProcessInfo>();
      for (const f of files) for (const u of table.get(f) ?? []) found.set(u.pid, u);
      return { error: ERROR_SUCCESS, needed: found.size, processes: [...found.values()] };
    },
    endSession: () => ERROR_SUCCESS,
  };
}

/** Renames like Windows: refused while a handle without FILE_SHARE_DELETE is open. */
function sharingFs(locked: Set<string>, log: string[]): RenameFs {
  return {
    rename(from, to) {
      log.push(`${from} -> ${to}`);
      if (locked.has(from)) throw Object.assign(new Error(`EBUSY: resource busy or locked, rename '${from}'`), { code: 'EBUSY' });
      renameSync(from, to);
    },
  };
}

describe('walkFiles', () => {
  it('lists every file under the roots, skipping our own .llm-upgrade state', () => {
    const files = walkFiles([dir])
      .map((f) => f.slice(dir.length + 1))
      .sort();
    expect(files).toEqual(['lib/ollama/ggml-cuda.dll', 'lib/ollama/llama-server.exe', 'model.gguf', 'notes.txt', 'ollama.exe']);
    expect(walkFiles([join(dir, 'model.gguf'), join(dir, 'missing')])).toEqual([join(dir, 'model.gguf')]);
  });
});

describe('probeRename', () => {
  it('moves the file aside and back, leaving content and directory as they were', () => {
    const file = join(dir, 'model.gguf');
    expect(probeRename(file)).toEqual({ held: false });
    expect(readFileSync(file, 'utf8')).toBe('model.gguf');
    expect(readdirSync(dir).some((n) => n.endsWith(PROBE_SUFFIX))).toBe(false);
  });
  it('reports the errno of a refused rename, and a vanished file as free', () => {
    const file = join(dir, 'model.gguf');
    expect(probeRename(file, sharingFs(new Set([file]), []))).toEqual({ held: true, code: 'EBUSY' });
    expect(probeRename(join(dir, 'gone.bin'))).toEqual({ held: false });
  });
});

describe('scanWindowsHolders', () => {
  it('reports RM users per file, exe holders from the snapshot, and probes only what RM did not explain', () => {
    const engineExe = join(dir, 'lib/ollama/llama-server.exe');
    const model = join(dir, 'model.gguf');
    const dll = join(dir, 'lib/ollama/ggml-cuda.dll');
    const engine = proc(8120, engineExe);
    const rm = rmOver(
      new Map([
        [model, [{ pid: 8120, startKey: engine.startKey, appName: 'llama-server.exe', serviceShortName: '', appType: 5 }]],
        [dll, [{ pid: 8120, startKey: engine.startKey, appName: 'llama-server.exe', serviceShortName: '', appType: 5 }]],
      ]),
    );
    const notes = join(dir, 'notes.txt');
    const log: string[] = [];
    const snapshot: Snapshot = {
      processes: [engine, proc(9020, 'C:\\tools\\llama-server.exe')],
      unreadable: [proc(4, null, '')],
      takenAt: 0,
    };
    const r = scanWindowsHolders([dir], snapshot, { rm, pathKey: key, fs: sharingFs(new Set([notes]), log) });
    expect(r.holders.map((h) => `${h.pid}:${h.kind}:${h.path.slice(dir.length + 1)}`).sort()).toEqual([
      `0:fd:notes.txt`,
      '8120:exe:lib/ollama/llama-server.exe',
      '8120:fd:lib/ollama/ggml-cuda.dll',
      '8120:fd:model.gguf',
    ]);
    expect(r.holders.find((h) => h.pid === 0)?.name).toBe(UNATTRIBUTED);
    expect(log.some((l) => l.startsWith(model))).toBe(false); // explained by RM: not probed
    expect(log.some((l) => l.startsWith(join(dir, 'ollama.exe')))).toBe(true);
    expect(r.unknown.map((p) => p.pid)).toEqual([4]);
    expect(r.rmError).toBeUndefined();
  });
  it('without a working Restart Manager every process is unknown, and exe holders and the probe still count', () => {
    const exe = join(dir, 'ollama.exe');
    const snapshot: Snapshot = { processes: [proc(7392, exe)], unreadable: [], takenAt: 0 };
    const r = scanWindowsHolders([dir], snapshot, { rm: rmOver(new Map(), 5), pathKey: key, fs: sharingFs(new Set(), []) });
    expect(r.rmError).toMatch(/RmStartSession failed with Win32 error 5/);
    expect(r.unknown.map((p) => p.pid)).toEqual([7392]);
    expect(r.holders).toEqual([{ pid: 7392, name: 'ollama.exe', exe, path: exe, kind: 'exe' }]);
  });
});
