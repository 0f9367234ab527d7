import { describe, expect, it } from 'vitest';
import type { ScopedProcess } from '../../types.js';
import { FakeWindows, ft, type FakeProc } from './fake-windows.js';
import { Win32Terminator } from './terminate.js';

const ROOT = 'C:\\Users\\alice\\AppData\\Local\\Programs\\Ollama';

function scoped(p: FakeProc, ppid = p.ppid, orphan = false): ScopedProcess {
  return {
    pid: p.pid,
    ppid,
    name: p.name,
    exe: p.exe,
    cmdline: [],
    startTime: 0,
    startKey: p.creation.toString(),
    user: null,
    role: 'engine',
    inScope: true,
    orphan,
  };
}

function terminator(win: FakeWindows): Win32Terminator {
  return new Win32Terminator({
    api: win.api,
    exec: win.exec,
    rawParents: async () => new Map(win.api.listProcesses()?.map((r) => [r.pid, r.ppid]) ?? []),
    currentKeys: async () => new Map(),
  });
}

/** explorer → ollama app → ollama serve → 2 engines, plus an orphaned engine and a foreign llama-server. */
function ollamaTree() {
  const explorer: FakeProc = {
    pid: 5012,
    ppid: 4980,
    name: 'explorer.exe',
    exe: 'C:\\Windows\\explorer.exe',
    creation: ft(-3000),
    windowed: true,
  };
  const app: FakeProc = {
    pid: 7344,
    ppid: 5012,
    name: 'ollama app.exe',
    exe: `${ROOT}\\ollama app.exe`,
    creation: ft(1000),
    windowed: true,
  };
  const serve: FakeProc = { pid: 7392, ppid: 7344, name: 'ollama.exe', exe: `${ROOT}\\ollama.exe`, creation: ft(1001) };
  const engine1: FakeProc = {
    pid: 8120,
    ppid: 7392,
    name: 'llama-server.exe',
    exe: `${ROOT}\\lib\\ollama\\llama-server.exe`,
    creation: ft(1100),
  };
  const engine2: FakeProc = {
    pid: 8164,
    ppid: 7392,
    name: 'llama-server.exe',
    exe: `${ROOT}\\lib\\ollama\\llama-server.exe`,
    creation: ft(1101),
  };
  // Orphan: its ollama.exe (pid 6112) crashed; 6112 now belongs to a notepad started later.
  const orphan: FakeProc = {
    pid: 6604,
    ppid: 6112,
    name: 'llama-server.exe',
    exe: `${ROOT}\\lib\\ollama\\llama-server.exe`,
    creation: ft(100),
  };
  const notepad: FakeProc = {
    pid: 6112,
    ppid: 5012,
    name: 'notepad.exe',
    exe: 'C:\\Windows\\System32\\notepad.exe',
    creation: ft(900),
    windowed: true,
  };
  const foreign: FakeProc = {
    pid: 9020,
    ppid: 5012,
    name: 'llama-server.exe',
    exe: 'C:\\tools\\llama.cpp\\llama-server.exe',
    creation: ft(1200),
  };
  const win = new FakeWindows().add(explorer, app, serve, engine1, engine2, orphan, notepad, foreign);
  // The orphan's effective ppid is 0: its recorded parent is a reused pid.
  const targets = [scoped(app, 5012), scoped(serve), scoped(engine1), scoped(engine2), scoped(orphan, 0, true)];
  return { win, targets, orphan, notepad, foreign, explorer };
}

describe('Win32Terminator.forceKill', () => {
  it('runs taskkill /T /F once per forest root (the orphan is its own root) and spares everything else', async () => {
    const { win, targets } = ollamaTree();
    const out = await terminator(win).forceKill(targets, new Set([1]));
    expect(win.calls).toEqual(['taskkill /PID 7344 /T /F', 'taskkill /PID 6604 /T /F']);
    expect(out.map((o) => [o.pid, o.result]).sort()).toEqual([
      [6604, 'sent'],
      [7344, 'sent'],
      [7392, 'sent'],
      [8120, 'sent'],
      [8164, 'sent'],
    ]);
    for (const t of targets) expect(win.alive(t.pid)).toBe(false);
    expect(win.alive(6112)).toBe(true); // the pid the orphan names as parent: not its parent, untouched
    expect(win.alive(9020)).toBe(true); // same image name, outside the install
    expect(win.alive(5012)).toBe(true);
    expect(out.every((o) => o.process !== undefined)).toBe(true);
  });

  it('does not touch a pid whose creation time changed since the snapshot', async () => {
    const { win, targets } = ollamaTree();
    win.kill(6604);
    win.reuse(6604, { ppid: 5012, name: 'code.exe', exe: 'C:\\Program Files\\VS Code\\code.exe', creation: ft(5000) });
    const out = await terminator(win).forceKill(targets, new Set());
    expect(out.find((o) => o.pid === 6604)).toMatchObject({ result: 'gone', detail: expect.stringMatching(/creation time changed/) });
    expect(win.alive(6604)).toBe(true);
    expect(win.calls.some((c) => c.includes('/PID 6604'))).toBe(false);
  });

  it('never uses /T on a root whose raw children include a process that is not a target', async () => {
    const { win, targets, notepad } = ollamaTree();
    // notepad (6112) is the orphan's recorded "parent"; make notepad itself a target root whose raw
    // child list includes the orphan (a target) and a non-target started by the real notepad.
    win.add({ pid: 9900, ppid: 6112, name: 'cmd.exe', exe: 'C:\\Windows\\System32\\cmd.exe', creation: ft(950) });
    const t = terminator(win);
    const out = await t.forceKill([...targets, scoped(notepad, 5012)], new Set());
    expect(win.calls).not.toContain('taskkill /PID 6112 /T /F');
    expect(win.calls).toContain('taskkill /PID 6112 /F');
    expect(win.alive(9900)).toBe(true);
    expect(out.find((o) => o.pid === 6112)?.result).toBe('sent');
  });

  it('skips /T for a root whose subtree holds a protected pid (our own upgrader)', async () => {
    const { win, targets } = ollamaTree();
    win.add({ pid: 4242, ppid: 7392, name: 'llm-upgrade.exe', exe: `${ROOT}\\llm-upgrade.exe`, creation: ft(2000) });
    const out = await terminator(win).forceKill(targets, new Set([4242]));
    expect(win.calls.some((c) => c.includes('/T'))).toBe(true); // the orphan's own tree is still fine
    expect(win.calls).not.toContain('taskkill /PID 7344 /T /F');
    expect(win.alive(4242)).toBe(true);
    for (const t of targets) expect(win.alive(t.pid), `pid ${t.pid}`).toBe(false);
    expect(out.filter((o) => o.result === 'sent')).toHaveLength(5);
  });

  it('falls back to per-pid taskkill when /T is rejected (Wine) and remembers it', async () => {
    const { win, targets } = ollamaTree();
    win.dialect = 'wine';
    const t = terminator(win);
    const out = await t.forceKill(targets, new Set());
    expect(t.treeSupported).toBe(false);
    expect(win.calls.filter((c) => c.includes('/T'))).toEqual(['taskkill /PID 7344 /T /F']);
    expect(win.calls.filter((c) => !c.includes('/T')).length).toBe(5);
    expect(out.every((o) => o.result === 'sent')).toBe(true);
    for (const x of targets) expect(win.alive(x.pid)).toBe(false);
    expect(win.alive(6112)).toBe(true);
  });

  it('ends targets with TerminateProcess on the verified handle when taskkill cannot run', async () => {
    const { win, targets } = ollamaTree();
    win.taskkillMissing = true;
    const out = await terminator(win).forceKill(targets, new Set());
    expect(win.calls.filter((c) => c.startsWith('TerminateProcess')).length).toBe(5);
    expect(out.every((o) => o.result === 'sent')).toBe(true);
    for (const x of targets) expect(win.alive(x.pid)).toBe(false);
  });

  it("reports 'denied' for a process we may not terminate, and leaves it running", async () => {
    const { win, targets } = ollamaTree();
    const engine = win.procs.get(8164);
    if (engine) engine.denied = 'terminate';
    const out = await terminator(win).forceKill(targets, new Set());
    expect(out.find((o) => o.pid === 8164)).toMatchObject({ result: 'denied' });
    expect(win.alive(8164)).toBe(true);
    expect(win.alive(8120)).toBe(false);
  });

  it("reports 'denied' when the process cannot even be opened", async () => {
    const { win, targets } = ollamaTree();
    const orphan = win.procs.get(6604);
    if (orphan) orphan.denied = 'open';
    const out = await terminator(win).forceKill(targets, new Set());
    expect(out.find((o) => o.pid === 6604)).toMatchObject({ result: 'denied' });
    expect(win.calls.some((c) => c.includes('6604'))).toBe(false);
  });

  it("reports 'gone' for a target that exited before the kill", async () => {
    const { win, targets } = ollamaTree();
    win.kill(8164);
    const out = await terminator(win).forceKill(targets, new Set());
    expect(out.find((o) => o.pid === 8164)?.result).toBe('gone');
  });

  it('refuses protected targets outright', async () => {
    const { win, targets } = ollamaTree();
    const out = await terminator(win).forceKill(targets, new Set([7392]));
    expect(out.find((o) => o.pid === 7392)).toMatchObject({ result: 'failed', detail: expect.stringMatching(/protected/) });
    expect(win.alive(7392)).toBe(true);
  });
});

describe('Win32Terminator.requestExit', () => {
  it('closes windowed processes with taskkill /T and hands console ones to the force phase', async () => {
    const { win, targets } = ollamaTree();
    const out = await terminator(win).requestExit(targets, new Set());
    expect(win.calls[0]).toBe('taskkill /PID 7344 /T');
    expect(win.calls.every((c) => !c.includes('/F'))).toBe(true);
    expect(out.find((o) => o.pid === 7344)).toMatchObject({ result: 'sent' });
    expect(win.alive(7344)).toBe(false);
    const engine = out.find((o) => o.pid === 8120);
    expect(engine).toMatchObject({ result: 'sent', detail: expect.stringMatching(/terminated forcefully/) });
    expect(win.alive(8120)).toBe(true);
  });

  it('under Wine (no /T, "could not find" for console programs) still answers per pid', async () => {
    const { win, targets } = ollamaTree();
    win.dialect = 'wine';
    const out = await terminator(win).requestExit(targets, new Set());
    expect(out).toHaveLength(5);
    expect(out.find((o) => o.pid === 7344)?.result).toBe('sent');
    expect(out.find((o) => o.pid === 6604)).toMatchObject({ result: 'sent', detail: expect.stringMatching(/Could not find process/) });
    expect(win.alive(6604)).toBe(true);
  });
});
