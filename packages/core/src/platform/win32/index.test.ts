import { describe, expect, it } from 'vitest';
import type { ScopedProcess } from '../../types.js';
import { Win32Backend, win32PathKey } from './index.js';
import { FakeWindows, ft } from './fake-windows.js';
import { recorded } from './recorded.js';
import { filetimeToMs } from './filetime.js';

const ROOT = 'C:\\Users\\alice\\AppData\\Local\\Programs\\Ollama';

function machine() {
  const win = new FakeWindows().add(
    { pid: 0, ppid: 0, name: '[System Process]', exe: null, creation: 0n },
    { pid: 4, ppid: 0, name: 'System', exe: null, creation: ft(-3600), denied: 'open' },
    {
      pid: 5012,
      ppid: 4980,
      name: 'explorer.exe',
      exe: 'C:\\Windows\\explorer.exe',
      creation: ft(-3000),
      cmdline: 'C:\\Windows\\Explorer.EXE',
    },
    { pid: 7392, ppid: 5012, name: 'ollama.exe', exe: `${ROOT}\\ollama.exe`, creation: ft(1001), cmdline: `"${ROOT}\\ollama.exe" serve` },
    { pid: 8120, ppid: 7392, name: 'llama-server.exe', exe: `${ROOT}\\lib\\ollama\\llama-server.exe`, creation: ft(1100) },
    { pid: 6604, ppid: 6112, name: 'llama-server.exe', exe: `${ROOT}\\lib\\ollama\\llama-server.exe`, creation: ft(100) },
    { pid: 6112, ppid: 5012, name: 'notepad.exe', exe: 'C:\\Windows\\System32\\notepad.exe', creation: ft(900) },
  );
  return { win, backend: new Win32Backend({ api: win.api, exec: win.exec, now: () => filetimeToMs(ft(5000)), env: {} }) };
}

const asScoped = (
  p: { pid: number; ppid: number; name: string; exe: string | null; startKey: string; startTime: number },
  orphan = false,
): ScopedProcess => ({ ...p, cmdline: [], user: null, role: 'engine', inScope: true, orphan });

describe('Win32Backend (native discovery through an injected WinApi)', () => {
  it('snapshots exe, command line, creation time and live parents; unopenable processes are unreadable', async () => {
    const { backend } = machine();
    expect(backend.discovery).toBe('native');
    const snap = await backend.snapshot();
    const byPid = new Map(snap.processes.map((p) => [p.pid, p]));
    expect(snap.unreadable.map((p) => p.pid).sort((a, b) => a - b)).toEqual([0, 4]);
    expect(byPid.get(7392)).toMatchObject({
      ppid: 5012,
      exe: `${ROOT}\\ollama.exe`,
      cmdline: [`${ROOT}\\ollama.exe`, 'serve'],
      startKey: ft(1001).toString(),
      startTime: Date.UTC(2026, 10, 24, 8, 16, 41),
    });
    expect(byPid.get(6604)?.ppid).toBe(0); // named parent 6112 was created after it: a reused pid
    expect(byPid.get(5012)?.ppid).toBe(0); // parent long dead
    expect(byPid.get(8120)?.ppid).toBe(7392);
  });

  it('leaves out a process that took a listed pid after the listing started', async () => {
    const { win } = machine();
    win.add({ pid: 7777, ppid: 7392, name: 'new.exe', exe: `${ROOT}\\new.exe`, creation: ft(6000) });
    const backend = new Win32Backend({ api: win.api, exec: win.exec, now: () => filetimeToMs(ft(5000)), env: {} });
    const snap = await backend.snapshot();
    expect(snap.processes.some((p) => p.pid === 7777)).toBe(false);
  });

  it('identityOf: the creation FILETIME, null once exited', async () => {
    const { win, backend } = machine();
    expect(await backend.identityOf(8120)).toBe(ft(1100).toString());
    win.kill(8120);
    expect(await backend.identityOf(8120)).toBeNull();
    expect(await backend.identityOf(4)).toBe('unreadable:4');
    expect(await backend.identityOf(123456)).toBeNull();
  });

  it('forceKill kills the orphan and the tree, and picks up what appears meanwhile', async () => {
    const { win, backend } = machine();
    const snap = await backend.snapshot();
    const pick = (pid: number) => snap.processes.find((p) => p.pid === pid);
    const targets = [7392, 8120, 6604].map((pid) =>
      asScoped(pick(pid) ?? { pid, ppid: 0, name: '', exe: null, startKey: '', startTime: 0 }, pid === 6604),
    );
    // The server respawns an engine as it dies (it is not a child of anything we kill).
    let respawned = false;
    win.onKill = (pid) => {
      if (pid === 7392 && !respawned) {
        respawned = true;
        win.add({ pid: 9500, ppid: 7392, name: 'llama-server.exe', exe: `${ROOT}\\lib\\ollama\\llama-server.exe`, creation: ft(4000) });
      }
    };
    let rescans = 0;
    const out = await backend.forceKill(targets, {
      protectedPids: new Set([1]),
      rescan: async () => {
        rescans++;
        const s = await backend.snapshot();
        return s.processes.filter((p) => p.exe?.startsWith(ROOT)).map((p) => asScoped(p, p.ppid === 0));
      },
    });
    expect(rescans).toBeGreaterThanOrEqual(2);
    expect(out.map((o) => [o.pid, o.result]).sort()).toEqual([
      [6604, 'sent'],
      [7392, 'sent'],
      [8120, 'sent'],
      [9500, 'sent'],
    ]);
    for (const pid of [7392, 8120, 6604, 9500]) expect(win.alive(pid)).toBe(false);
    expect(win.alive(6112)).toBe(true);
  });

  it('finds the service that runs an in-scope pid through sc queryex', async () => {
    const { win, backend } = machine();
    win.programs.set('sc.exe', () => ({ code: 0, stdout: recorded('win32/sc-queryex-all.txt'), stderr: '' }));
    await backend.snapshot();
    const refs = await backend.findServices(
      [asScoped({ pid: 7392, ppid: 5012, name: 'ollama.exe', exe: null, startKey: '', startTime: 0 })],
      [],
    );
    expect(refs).toEqual([{ manager: 'windows-service', name: 'ollama-direct', pids: [7392] }]);
  });

  it('looks for nvidia-smi on PATH, then under Program Files and System32', async () => {
    const tried: string[] = [];
    const backend = new Win32Backend({
      api: null,
      env: { ProgramFiles: 'C:\\Program Files', SystemRoot: 'C:\\Windows' },
      exec: async (file) => {
        tried.push(file);
        return file.endsWith('NVSMI\\nvidia-smi.exe')
          ? { code: 0, stdout: recorded('nvidia-smi/windows-wddm.csv'), stderr: '' }
          : { code: null, stdout: '', stderr: '', error: 'ENOENT' };
      },
    });
    const gpu = await backend.gpuUsage();
    expect(tried).toEqual(['nvidia-smi.exe', 'C:\\Program Files\\NVIDIA Corporation\\NVSMI\\nvidia-smi.exe']);
    expect(gpu.map((g) => g.pid)).toEqual([7392, 8120]);
  });
});

describe('Win32Backend (CIM fallback)', () => {
  it('snapshots from PowerShell JSON and marks the discovery', async () => {
    const win = new FakeWindows();
    win.programs.set('powershell.exe', () => ({ code: 0, stdout: recorded('win32/cim-win32_process-ps51.json'), stderr: '' }));
    const backend = new Win32Backend({ api: null, exec: win.exec, env: {} });
    expect(backend.discovery).toBe('cim');
    const snap = await backend.snapshot();
    expect(snap.processes.find((p) => p.pid === 7392)?.startKey).toBe('cim:1795508201700');
  });

  it('kills through taskkill after re-checking identity through CIM, and leaves a changed pid alone', async () => {
    const win = new FakeWindows().add(
      { pid: 7392, ppid: 5012, name: 'ollama.exe', exe: `${ROOT}\\ollama.exe`, creation: ft(1001) },
      { pid: 6604, ppid: 5012, name: 'code.exe', exe: 'C:\\code.exe', creation: ft(4000) },
    );
    const json = (pids: number[]) =>
      JSON.stringify(
        pids.map((pid) => ({
          ProcessId: pid,
          ParentProcessId: 5012,
          Name: 'x.exe',
          ExecutablePath: win.procs.get(pid)?.exe,
          CreationDate: `/Date(${filetimeToMs(win.procs.get(pid)?.creation ?? 0n)})/`,
          CommandLine: null,
        })),
      );
    win.programs.set('powershell.exe', () => ({
      code: 0,
      stdout: json([...win.procs.values()].filter((p) => p.alive).map((p) => p.pid)),
      stderr: '',
    }));
    const backend = new Win32Backend({ api: null, exec: win.exec, env: {} });
    const targets = [
      asScoped({ pid: 7392, ppid: 0, name: 'ollama.exe', exe: null, startKey: `cim:${filetimeToMs(ft(1001))}`, startTime: 0 }),
      asScoped({ pid: 6604, ppid: 0, name: 'llama-server.exe', exe: null, startKey: `cim:${filetimeToMs(ft(100))}`, startTime: 0 }, true),
    ];
    const out = await backend.forceKill(targets, { protectedPids: new Set(), rescan: async () => [] });
    expect(out.find((o) => o.pid === 7392)?.result).toBe('sent');
    expect(out.find((o) => o.pid === 6604)?.result).toBe('gone');
    expect(win.alive(7392)).toBe(false);
    expect(win.alive(6604)).toBe(true);
    expect(win.calls).toEqual(['taskkill /PID 7392 /T /F']);
  });
});

describe('win32PathKey', () => {
  it('folds case and separators, strips \\\\?\\ and trailing separators', () => {
    expect(win32PathKey('\\\\?\\C:\\Users\\Alice\\AppData\\Local\\Programs\\Ollama\\')).toBe(
      'c:\\users\\alice\\appdata\\local\\programs\\ollama',
    );
    expect(win32PathKey('c:/users/alice/AppData/Local/Programs/Ollama//')).toBe('c:\\users\\alice\\appdata\\local\\programs\\ollama');
    expect(win32PathKey('\\\\?\\UNC\\server\\share\\Ollama')).toBe('\\\\server\\share\\ollama');
  });
});
