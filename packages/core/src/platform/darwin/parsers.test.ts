import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { ScopedProcess } from '../../types.js';
import { matchLaunchdJobs, parseLaunchctlList } from './launchctl.js';
import { executables, kindOf, parseLsof } from './lsof.js';
import { parseLstart, parsePsArgs, parsePsStat, toProcesses } from './ps.js';

const recorded = (name: string) => readFileSync(fileURLToPath(new URL(`../__recorded__/darwin/${name}`, import.meta.url)), 'utf8');

describe('ps', () => {
  const rows = parsePsStat(recorded('ps-stat.txt'));
  it('reads pid, ppid, user, state, lstart and a comm with spaces', () => {
    expect(rows).toHaveLength(12);
    expect(rows.find((r) => r.pid === 1602)).toMatchObject({
      ppid: 901,
      user: 'alice',
      state: 'S',
      comm: '/Applications/Visual Studio Code.app/Contents/MacOS/Electron',
    });
    expect(rows.find((r) => r.pid === 588)?.user).toBe('_windowserver');
  });
  it('turns lstart into a stable key and local-time milliseconds, single-digit days included', () => {
    const z = rows.find((r) => r.pid === 1540);
    expect(z?.start.key).toBe('2026-11-04T09:05:01');
    expect(z?.start.ms).toBe(new Date(2026, 10, 4, 9, 5, 1).getTime());
    expect(parseLstart('Tue Nov 24 09:15:02 2026')?.key).toBe('2026-11-24T09:15:02');
    expect(parseLstart('garbage')).toBeNull();
  });
  it('builds processes: absolute comm is the exe, others need lsof, zombies stay in the list', () => {
    const args = parsePsArgs(recorded('ps-args.txt'));
    expect(args.get(1377)).toBe(
      '/Applications/Ollama.app/Contents/Resources/ollama runner --model /Users/alice/.ollama/models/blobs/sha256-6a0746a1ec1a --port 52114',
    );
    const fromLsof = executables(parseLsof(recorded('lsof-txt.txt')));
    const { processes, unreadable } = toProcesses(rows, args, (r) => (r.comm.startsWith('/') ? r.comm : (fromLsof.get(r.pid) ?? null)));
    const byPid = new Map(processes.map((p) => [p.pid, p]));
    expect(byPid.get(1533)).toMatchObject({
      exe: '/opt/homebrew/Cellar/llama.cpp/4589/bin/llama-server',
      name: 'llama-server',
      cmdline: ['llama-server', '-m', '/Users/alice/models/qwen.gguf'],
    });
    expect(byPid.get(1377)).toMatchObject({ name: 'ollama', ppid: 1218, cmdline: expect.arrayContaining(['runner']) });
    expect(byPid.get(1540)?.state).toBe('Z');
    expect(byPid.get(1490)?.exe).toBe('/bin/zsh');
    expect(unreadable).toEqual([]);
  });
});

describe('lsof -F', () => {
  const procs = parseLsof(recorded('lsof-holders.txt'));
  it('groups fields by process and file', () => {
    expect(procs.map((p) => [p.pid, p.command])).toEqual([
      [1204, 'Ollama'],
      [1218, 'ollama'],
      [1377, 'ollama'],
      [1602, 'Electron'],
    ]);
    expect(procs[2]?.files.find((f) => f.fd === '9')).toEqual({
      fd: '9',
      type: 'REG',
      name: '/Applications/Ollama.app/Contents/Resources/ggml-metal.metal',
    });
  });
  it('classifies exe, map, fd, cwd and root entries', () => {
    const exe = '/Applications/Ollama.app/Contents/Resources/ollama';
    const files = procs[2]?.files ?? [];
    expect(files.map((f) => kindOf(f, exe))).toEqual(['cwd', 'exe', 'map', 'map', 'fd', null]);
    expect(kindOf({ fd: 'rtd', type: 'DIR', name: '/' }, null)).toBe('root');
    expect(kindOf({ fd: '3', type: 'IPv4', name: '127.0.0.1:11434' }, null)).toBeNull();
    expect(kindOf({ fd: 'mem', type: 'REG', name: '/x.so' }, null)).toBe('map');
  });
  it('takes the first txt entry as the executable', () => {
    expect(executables(procs).get(1204)).toBe('/Applications/Ollama.app/Contents/MacOS/Ollama');
  });
});

describe('launchctl list', () => {
  const jobs = parseLaunchctlList(recorded('launchctl-list.txt'));
  it('reads pid (or none), last status and label', () => {
    expect(jobs).toHaveLength(6);
    expect(jobs[0]).toEqual({ label: 'com.apple.SafariHistoryServiceAgent', pid: null, status: 0 });
    expect(jobs.find((j) => j.label === 'com.example.crashed')).toEqual({ label: 'com.example.crashed', pid: null, status: -9 });
  });
  it('matches jobs whose pid is in scope, or named jobs that are ancestors', () => {
    const p = (pid: number, inScope = true): ScopedProcess => ({
      pid,
      ppid: 1,
      name: 'ollama',
      exe: null,
      cmdline: [],
      startTime: 0,
      startKey: '',
      user: 'alice',
      role: 'server',
      inScope,
      orphan: false,
    });
    const ancestors = new Map([[3000, [2101]]]);
    const refs = matchLaunchdJobs(jobs, [p(1218), p(3000), p(901, false)], ['homebrew.mxcl.ollama'], (pid) => ancestors.get(pid) ?? []);
    expect(refs).toEqual([
      { manager: 'launchd', name: 'homebrew.mxcl.ollama', pids: [3000] },
      { manager: 'launchd', name: 'com.ollama.server', pids: [1218] },
    ]);
  });
});
