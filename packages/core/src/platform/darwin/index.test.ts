import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { ScopedProcess } from '../../types.js';
import { DarwinBackend, darwinPathKey } from './index.js';
import { freezeKill } from '../posix/freeze-kill.js';
import type { Exec, ExecResult } from '../../exec.js';
import type { SignalOutcome } from '../backend.js';

const recorded = (name: string) => readFileSync(fileURLToPath(new URL(`../__recorded__/darwin/${name}`, import.meta.url)), 'utf8');
const ok = (stdout: string): ExecResult => ({ code: 0, stdout, stderr: '' });

/** Replays the recorded macOS outputs for the commands the backend runs. */
function replay(calls: string[]): Exec {
  const stat = recorded('ps-stat.txt');
  return async (file, args) => {
    calls.push(`${file} ${args.join(' ')}`);
    if (file === 'ps' && args.includes('pid=,args=')) return ok(recorded('ps-args.txt'));
    if (file === 'ps' && args[0] === '-axww') return ok(stat);
    if (file === 'ps' && args.includes('-p')) {
      const pids = new Set((args[args.indexOf('-p') + 1] ?? '').split(',').map(Number));
      return ok(
        stat
          .split('\n')
          .filter((l) => pids.has(Number(l.trim().split(/\s+/)[0])))
          .join('\n'),
      );
    }
    if (file === 'lsof' && args.includes('txt')) return ok(recorded('lsof-txt.txt'));
    if (file === 'lsof') return ok(recorded('lsof-holders.txt'));
    if (file === 'launchctl' && args[0] === 'list') return ok(recorded('launchctl-list.txt'));
    return { code: null, stdout: '', stderr: '', error: 'ENOENT' };
  };
}

const scoped = (p: { pid: number; startKey: string }, extra: Partial<ScopedProcess> = {}): ScopedProcess => ({
  ppid: 1,
  name: 'x',
  exe: null,
  cmdline: [],
  startTime: 0,
  user: null,
  role: 'engine',
  inScope: true,
  orphan: false,
  ...p,
  ...extra,
});

describe('DarwinBackend on recorded macOS output', () => {
  it('snapshots through two ps calls and asks lsof only for processes without an absolute argv[0]', async () => {
    const calls: string[] = [];
    const b = new DarwinBackend({ exec: replay(calls), realpath: (p) => p });
    const snap = await b.snapshot();
    expect(snap.processes.find((p) => p.pid === 1533)?.exe).toBe('/opt/homebrew/Cellar/llama.cpp/4589/bin/llama-server');
    expect(snap.processes.find((p) => p.pid === 1204)?.exe).toBe('/Applications/Ollama.app/Contents/MacOS/Ollama');
    const lsofCall = calls.find((c) => c.startsWith('lsof'));
    expect(lsofCall).toMatch(/-d txt -a -p 1490,1533$/);
    expect(snap.unreadable).toEqual([]);
  });

  it('reports exe, map, fd and cwd holders under the root and nothing outside it', async () => {
    const b = new DarwinBackend({ exec: replay([]), realpath: (p) => p });
    const snap = await b.snapshot();
    const { holders, unknown } = await b.scanHolders(['/Applications/Ollama.app'], snap);
    const got = holders.map((h) => `${h.pid} ${h.kind} ${h.path.replace('/Applications/Ollama.app/Contents/', '')}`).sort();
    expect(got).toEqual([
      '1204 exe MacOS/Ollama',
      '1204 map Frameworks/Squirrel.framework/Versions/A/Squirrel',
      '1218 exe Resources/ollama',
      '1377 exe Resources/ollama',
      '1377 fd Resources/ggml-metal.metal',
      '1377 map Resources/libggml-metal.dylib',
      '1602 cwd Resources',
    ]);
    // lsof printed nothing for these (other users, or gone): unknown unless they are gone.
    expect(unknown.map((p) => p.pid).sort((a, b) => a - b)).toEqual([1, 312, 588, 901, 1402, 1490, 1533]);
  });

  it('finds the launchd job of an in-scope pid', async () => {
    const b = new DarwinBackend({ exec: replay([]), realpath: (p) => p });
    await b.snapshot();
    expect(await b.findServices([scoped({ pid: 1218, startKey: '' })], [])).toEqual([
      { manager: 'launchd', name: 'com.ollama.server', pids: [1218] },
    ]);
  });

  it('boots a job out of its domain and waits until it has no pid', async () => {
    const calls: string[] = [];
    let listed = 0;
    const exec: Exec = async (file, args) => {
      calls.push(`${file} ${args.join(' ')}`);
      if (args[0] === 'list') return ok(listed++ === 0 ? recorded('launchctl-list.txt') : 'PID\tStatus\tLabel\n-\t0\tcom.ollama.server\n');
      return ok('');
    };
    const b = new DarwinBackend({ exec, uid: 501, sleep: async () => {} });
    await b.stopService({ manager: 'launchd', name: 'com.ollama.server', pids: [1218] }, 5000);
    expect(calls).toEqual(['launchctl bootout gui/501/com.ollama.server', 'launchctl list', 'launchctl list']);
  });

  it('starts a booted-out job again: kickstart fails while unloaded, so its plist is bootstrapped first', async () => {
    const calls: string[] = [];
    let loaded = false;
    const exec: Exec = async (file, args) => {
      calls.push(`${file} ${args.join(' ')}`);
      if (args[0] === 'bootstrap') loaded = true;
      if (args[0] === 'kickstart' && !loaded)
        return { code: 113, stdout: '', stderr: 'Could not find service "com.ollama.server" in domain for user gui: 501\n' };
      return ok('');
    };
    const b = new DarwinBackend({
      exec,
      uid: 501,
      home: '/Users/alice',
      exists: (p) => p === '/Users/alice/Library/LaunchAgents/com.ollama.server.plist',
    });
    await b.startService({ manager: 'launchd', name: 'com.ollama.server', pids: [] }, 5000);
    expect(calls).toEqual([
      'launchctl kickstart gui/501/com.ollama.server',
      'launchctl bootstrap gui/501 /Users/alice/Library/LaunchAgents/com.ollama.server.plist',
      'launchctl kickstart gui/501/com.ollama.server',
    ]);
  });

  it('fails the restart naming the job when no plist can be found', async () => {
    const exec: Exec = async () => ({ code: 113, stdout: '', stderr: 'Could not find service' });
    const b = new DarwinBackend({ exec, uid: 0, exists: () => false });
    await expect(b.startService({ manager: 'launchd', name: 'com.ollama.server', pids: [] }, 5000)).rejects.toMatchObject({
      code: 'ERR_HEALTH',
      phase: 'restart',
      message: expect.stringMatching(/system\/com\.ollama\.server/),
    });
  });

  it('resumes only while the pid is still the process it froze', async () => {
    const sent: string[] = [];
    const b = new DarwinBackend({ exec: replay([]), kill: (pid, signal) => void sent.push(`${signal} ${pid}`) });
    const [p] = (await b.snapshot()).processes.filter((x) => x.pid > 1);
    expect(await b.resume(p!.pid, 'not-its-start')).toMatchObject({ result: 'gone' });
    expect(await b.resume(p!.pid, p!.startKey)).toMatchObject({ result: 'sent' });
    expect(sent).toEqual([`SIGCONT ${p!.pid}`]);
  });

  it('path keys fold case and Unicode normalisation', () => {
    expect(darwinPathKey('/Applications/Ollama.app/')).toBe('/applications/ollama.app');
    expect(darwinPathKey('/Users/re\u0301mi/x')).toBe(darwinPathKey('/Users/r\u00e9mi/X'));
    expect(darwinPathKey('/')).toBe('/');
  });
});

describe('freezeKill', () => {
  it('stops everything, freezes newcomers from rescans, skips changed identities, kills, and never leaves a process stopped', async () => {
    const ids = new Map<number, string | null>([
      [10, 'a'],
      [11, 'b'],
      [12, 'c-new'],
      [13, 'd'],
    ]);
    const signals: string[] = [];
    const send = (pid: number, signal: NodeJS.Signals): SignalOutcome => {
      signals.push(`${signal} ${pid}`);
      if (pid === 13 && signal !== 'SIGCONT') return { pid, result: 'denied', detail: 'EPERM' };
      if (signal === 'SIGKILL') ids.set(pid, null);
      return { pid, result: 'sent' };
    };
    let rescans = 0;
    const out = await freezeKill(
      [
        scoped({ pid: 10, startKey: 'a' }),
        scoped({ pid: 12, startKey: 'c-old' }),
        scoped({ pid: 13, startKey: 'd' }),
        scoped({ pid: 99, startKey: 'me' }),
      ],
      { protectedPids: new Set([99]), rescan: async () => (rescans++ === 0 ? [scoped({ pid: 11, startKey: 'b' })] : []) },
      { identities: async (pids) => new Map(pids.map((p) => [p, ids.get(p) ?? null])), send, waitStopped: async () => {} },
    );
    expect(Object.fromEntries(out.map((o) => [o.pid, o.result]))).toEqual({ 10: 'sent', 11: 'sent', 12: 'gone', 13: 'denied' });
    expect(signals.filter((s) => s.startsWith('SIGSTOP'))).toEqual(['SIGSTOP 10', 'SIGSTOP 13', 'SIGSTOP 11']);
    expect(signals.filter((s) => s.startsWith('SIGKILL'))).toEqual(['SIGKILL 10', 'SIGKILL 11']);
    expect(signals.some((s) => s.endsWith(' 99') || s.endsWith(' 12'))).toBe(false);
    expect(out.every((o) => o.process !== undefined)).toBe(true);
  });
});

// The backend's commands are POSIX ps and lsof with the same flags on Linux (procps, lsof 4.9x),
// so its parsing runs here against real output from real processes.
const hasTools = existsSync('/usr/bin/lsof') || existsSync('/bin/lsof');
describe.skipIf(!hasTools)(`DarwinBackend against this machine's real ps and lsof (${hasTools ? 'found' : 'lsof missing'})`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'llmu-darwin-real-'));
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const start = (script: string): ChildProcess => {
    const c = spawn(process.execPath, ['-e', script], { cwd: dir, stdio: 'ignore' });
    children.push(c);
    return c;
  };
  const exited = (c: ChildProcess) =>
    new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));

  it('sees, identifies, reports holders of, and ends real processes', async () => {
    writeFileSync(join(dir, 'model.bin'), 'weights');
    const polite = start(`require('fs').openSync(${JSON.stringify(join(dir, 'model.bin'))}, 'r'); setInterval(() => {}, 1000)`);
    const stubborn = start(`process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)`);
    await new Promise((r) => setTimeout(r, 500));
    const b = new DarwinBackend();
    const snap = await b.snapshot();
    const p1 = snap.processes.find((p) => p.pid === polite.pid);
    const p2 = snap.processes.find((p) => p.pid === stubborn.pid);
    expect(p1?.exe).toBe(process.execPath);
    expect(p1?.ppid).toBe(process.pid);
    expect(await b.identityOf(polite.pid ?? -1)).toBe(p1?.startKey);

    const { holders } = await b.scanHolders([dir], snap);
    expect(holders).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ pid: polite.pid, kind: 'fd', path: join(dir, 'model.bin') }),
        expect.objectContaining({ pid: polite.pid, kind: 'cwd', path: dir }),
        expect.objectContaining({ pid: stubborn.pid, kind: 'cwd', path: dir }),
      ]),
    );

    if (!p1 || !p2) throw new Error('children not in the snapshot');
    const asked = await b.requestExit([scoped(p1), scoped(p2)], new Set([process.pid]));
    expect(asked.map((o) => o.result)).toEqual(['sent', 'sent']);
    await exited(polite);
    expect(await b.identityOf(polite.pid ?? -1)).toBeNull();
    expect(stubborn.exitCode).toBeNull();

    const forced = await b.forceKill([scoped(p2)], { protectedPids: new Set([process.pid]), rescan: async () => [] });
    expect(forced.map((o) => o.result)).toEqual(['sent']);
    await exited(stubborn);
    expect(stubborn.signalCode).toBe('SIGKILL');
  }, 30_000);
});
