import { describe, expect, it } from 'vitest';
import { parseCimDate, parseCimProcesses, queryCimProcesses, CIM_KEY_PREFIX } from './cim.js';
import { recorded } from './recorded.js';
import type { Exec } from '../../exec.js';

describe('parseCimDate', () => {
  it('reads the Windows PowerShell 5.1 form', () => {
    expect(parseCimDate('/Date(1795508200500)/')).toBe(1795508200500);
    expect(parseCimDate('/Date(1795508200500+0100)/')).toBe(1795508200500);
  });
  it('reads PowerShell 7 ISO 8601 with 100 ns ticks and an offset', () => {
    expect(parseCimDate('2026-11-24T09:16:40.5000000+01:00')).toBe(Date.UTC(2026, 10, 24, 8, 16, 40, 500));
    expect(parseCimDate('2026-11-24T08:16:40.1234567Z')).toBe(Date.UTC(2026, 10, 24, 8, 16, 40, 123));
  });
  it('reads CIM_DATETIME (Get-WmiObject) with its offset in minutes', () => {
    expect(parseCimDate('20261124091640.500000+060')).toBe(Date.UTC(2026, 10, 24, 8, 16, 40, 500));
    expect(parseCimDate('20261124031640.500000-300')).toBe(Date.UTC(2026, 10, 24, 8, 16, 40, 500));
  });
  it('reads a DateTime serialised as an object and rejects junk', () => {
    expect(parseCimDate({ value: '/Date(5)/', DisplayHint: 2 })).toBe(5);
    expect(parseCimDate(null)).toBeNull();
    expect(parseCimDate('yesterday')).toBeNull();
  });
});

describe('parseCimProcesses', () => {
  const ps51 = parseCimProcesses(recorded('win32/cim-win32_process-ps51.json'), 0);
  const ps7 = parseCimProcesses(recorded('win32/cim-win32_process-ps7.json'), 0);

  it('splits readable processes from those without path or creation time', () => {
    expect(ps51.snapshot.unreadable.map((p) => p.pid).sort((a, b) => a - b)).toEqual([0, 4, 808]);
    expect(ps51.snapshot.processes.map((p) => p.pid)).toContain(8120);
  });
  it('gives the same start times from 5.1 and 7 and marks keys as CIM-sourced', () => {
    for (const p of ps51.snapshot.processes) {
      const q = ps7.snapshot.processes.find((x) => x.pid === p.pid);
      expect(q?.startTime, `pid ${p.pid}`).toBe(p.startTime);
      expect(p.startKey.startsWith(CIM_KEY_PREFIX)).toBe(true);
    }
  });
  it('drops a parent link to a pid created after the child (reused pid) and to a dead pid', () => {
    const byPid = new Map(ps51.snapshot.processes.map((p) => [p.pid, p]));
    expect(byPid.get(6604)?.ppid).toBe(0); // its parent 6112 is now a later notepad
    expect(ps51.rawPpid.get(6604)).toBe(6112);
    expect(byPid.get(5012)?.ppid).toBe(0); // explorer's parent exited long ago
    expect(byPid.get(8120)?.ppid).toBe(7392);
  });
  it('splits command lines', () => {
    const engine = ps51.snapshot.processes.find((p) => p.pid === 8120);
    expect(engine?.cmdline.slice(0, 3)).toEqual([
      'C:\\Users\\alice\\AppData\\Local\\Programs\\Ollama\\lib\\ollama\\llama-server.exe',
      '--model',
      'C:\\Users\\alice\\.ollama\\models\\blobs\\sha256-6a0746a1ec1a',
    ]);
  });
  it('accepts the single object ConvertTo-Json writes for one process, and empty output', () => {
    const one = parseCimProcesses(recorded('win32/cim-win32_process-single-ps51.json'), 0);
    expect(one.snapshot.processes.map((p) => [p.pid, p.name])).toEqual([[7344, 'ollama app.exe']]);
    expect(parseCimProcesses('', 0).snapshot.processes).toEqual([]);
  });
});

describe('queryCimProcesses', () => {
  it('falls back from powershell.exe to pwsh.exe and passes a filter for one pid', async () => {
    const calls: string[][] = [];
    const exec: Exec = async (file, args) => {
      calls.push([file, ...args]);
      if (file === 'powershell.exe') return { code: null, stdout: '', stderr: '', error: 'ENOENT' };
      return { code: 0, stdout: recorded('win32/cim-win32_process-single-ps51.json'), stderr: '' };
    };
    const r = await queryCimProcesses(exec, 7344);
    expect(calls.map((c) => c[0])).toEqual(['powershell.exe', 'pwsh.exe']);
    expect(calls[1]?.at(-1)).toContain('-Filter "ProcessId=7344"');
    expect(r?.snapshot.processes[0]?.pid).toBe(7344);
  });
  it('is null when PowerShell fails', async () => {
    expect(await queryCimProcesses(async () => ({ code: 1, stdout: '', stderr: 'boom' }))).toBeNull();
  });
});
