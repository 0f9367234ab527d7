import { describe, expect, it } from 'vitest';
import type { ScopedProcess } from '../../types.js';
import type { Exec, ExecResult } from '../../exec.js';
import { recorded } from './recorded.js';
import { matchServices, parseScFailure, parseScServices, startWindowsService, stopWindowsService } from './services.js';

const proc = (pid: number, ppid: number, inScope = true): ScopedProcess => ({
  pid,
  ppid,
  name: 'x.exe',
  exe: null,
  cmdline: [],
  startTime: 0,
  startKey: '1',
  user: null,
  role: 'server',
  inScope,
  orphan: false,
});

describe('parseScServices', () => {
  const all = parseScServices(recorded('win32/sc-queryex-all.txt'));
  it('reads name, hexadecimal type, state and pid of every block', () => {
    expect(all.map((s) => s.name)).toEqual(['AudioSrv', 'Schedule', 'OllamaService', 'ollama-direct', 'wuauserv']);
    expect(all[1]).toMatchObject({
      name: 'Schedule',
      displayName: 'Task Scheduler',
      type: 0x20,
      state: 4,
      stateName: 'RUNNING',
      pid: 1480,
    });
    expect(all[4]).toMatchObject({ state: 1, stateName: 'STOPPED', pid: null });
  });
  it('reads sc stop / sc query replies', () => {
    expect(parseScServices(recorded('win32/sc-stop-pending.txt'))[0]).toMatchObject({ name: 'ollama-direct', state: 3 });
    expect(parseScServices(recorded('win32/sc-query-stopped.txt'))[0]?.state).toBe(1);
  });
  it('reads [SC] failures', () => {
    expect(parseScFailure(recorded('win32/sc-stop-access-denied.txt'))).toEqual({
      operation: 'OpenService',
      code: 5,
      message: 'Access is denied.',
    });
    expect(parseScFailure(recorded('win32/sc-query-missing.txt'))?.code).toBe(1060);
    expect(parseScFailure(recorded('win32/sc-query-stopped.txt'))).toBeNull();
  });
});

describe('matchServices', () => {
  const services = parseScServices(recorded('win32/sc-queryex-all.txt'));
  const ancestors = new Map<number, number[]>([
    [7392, [3120, 808]],
    [8120, [7392, 3120, 808]],
    [9000, [1480, 808]],
  ]);
  const input = (processes: ScopedProcess[], serviceNames: string[]) => ({
    processes,
    serviceNames,
    ancestorsOf: (pid: number) => ancestors.get(pid) ?? [],
  });

  it('takes a service whose own pid is in scope', () => {
    expect(matchServices(services, input([proc(7392, 3120), proc(8120, 7392)], []))).toEqual([
      { manager: 'windows-service', name: 'ollama-direct', pids: [7392] },
    ]);
  });
  it('takes a named own-process wrapper service (nssm) that is an ancestor of the server', () => {
    const refs = matchServices(services, input([proc(7392, 3120), proc(8120, 7392)], ['ollamaservice']));
    expect(refs).toContainEqual({ manager: 'windows-service', name: 'OllamaService', pids: [7392, 8120] });
  });
  it('never takes a shared-process host (Task Scheduler) even when named, nor out-of-scope pids', () => {
    const refs = matchServices(services, input([proc(9000, 1480), proc(2716, 1, false)], ['Schedule']));
    expect(refs).toEqual([]);
  });
});

function scripted(replies: Record<string, ExecResult[]>): { exec: Exec; calls: string[] } {
  const calls: string[] = [];
  const exec: Exec = async (file, args) => {
    const key = `${file} ${args[0]}`;
    calls.push(`${file} ${args.join(' ')}`);
    const list = replies[key];
    const reply = list && list.length > 1 ? list.shift() : list?.[0];
    return reply ?? { code: null, stdout: '', stderr: '', error: 'ENOENT' };
  };
  return { exec, calls };
}

const ok = (stdout: string): ExecResult => ({ code: 0, stdout, stderr: '' });
const fail = (code: number, stdout: string): ExecResult => ({ code, stdout, stderr: '' });

describe('stopWindowsService', () => {
  const noSleep = async () => {};
  it('sends sc stop and polls sc query until STOPPED', async () => {
    const { exec, calls } = scripted({
      'sc.exe stop': [ok(recorded('win32/sc-stop-pending.txt'))],
      'sc.exe query': [
        ok(recorded('win32/sc-query-stop-pending.txt')),
        ok(recorded('win32/sc-query-stop-pending.txt')),
        ok(recorded('win32/sc-query-stopped.txt')),
      ],
    });
    await stopWindowsService('ollama-direct', 10_000, { exec, sleep: noSleep });
    expect(calls).toEqual([
      'sc.exe stop ollama-direct',
      'sc.exe query ollama-direct',
      'sc.exe query ollama-direct',
      'sc.exe query ollama-direct',
    ]);
  });
  it('is done at once when the service is not running', async () => {
    const { exec, calls } = scripted({ 'sc.exe stop': [fail(1062, recorded('win32/sc-stop-not-active.txt'))] });
    await stopWindowsService('ollama-direct', 10_000, { exec, sleep: noSleep });
    expect(calls).toHaveLength(1);
  });
  it('throws a stop-phase error naming the service when access is denied', async () => {
    const { exec } = scripted({ 'sc.exe stop': [fail(5, recorded('win32/sc-stop-access-denied.txt'))] });
    await expect(stopWindowsService('ollama-direct', 10_000, { exec, sleep: noSleep })).rejects.toMatchObject({
      code: 'ERR_SURVIVORS',
      phase: 'stop',
      message: expect.stringMatching(/ollama-direct.*denied/),
    });
  });
  it('throws after the deadline when it stays STOP_PENDING', async () => {
    let t = 0;
    const { exec } = scripted({
      'sc.exe stop': [ok(recorded('win32/sc-stop-pending.txt'))],
      'sc.exe query': [ok(recorded('win32/sc-query-stop-pending.txt'))],
    });
    await expect(
      stopWindowsService('ollama-direct', 1000, { exec, sleep: async () => void (t += 300), now: () => t }),
    ).rejects.toMatchObject({ message: expect.stringMatching(/still STOP_PENDING after 1000 ms/) });
  });
});

// Written in sc.exe's documented reply format (no Windows service manager runs here): the same
// field labels parseScServices reads from the recorded replies above.
const scState = (state: string) =>
  `\r\nSERVICE_NAME: ollama-direct\r\n        TYPE               : 10  WIN32_OWN_PROCESS\r\n        STATE              : ${state}\r\n        WIN32_EXIT_CODE    : 0  (0x0)\r\n`;

describe('startWindowsService', () => {
  const noSleep = async () => {};
  it('sends sc start and polls sc query until RUNNING', async () => {
    const { exec, calls } = scripted({
      'sc.exe start': [ok(scState('2  START_PENDING'))],
      'sc.exe query': [ok(scState('2  START_PENDING')), ok(scState('4  RUNNING'))],
    });
    await startWindowsService('ollama-direct', 10_000, { exec, sleep: noSleep });
    expect(calls).toEqual(['sc.exe start ollama-direct', 'sc.exe query ollama-direct', 'sc.exe query ollama-direct']);
  });
  it('accepts a service that already runs (1056)', async () => {
    const { exec } = scripted({
      'sc.exe start': [fail(1056, '[SC] StartService FAILED 1056:\r\n\r\nAn instance of the service is already running.\r\n')],
      'sc.exe query': [ok(scState('4  RUNNING'))],
    });
    await expect(startWindowsService('ollama-direct', 10_000, { exec, sleep: noSleep })).resolves.toBeUndefined();
  });
  it('throws a restart-phase error naming the service when sc start fails', async () => {
    const { exec } = scripted({
      'sc.exe start': [fail(5, recorded('win32/sc-stop-access-denied.txt').replace('ControlService', 'StartService'))],
    });
    await expect(startWindowsService('ollama-direct', 10_000, { exec, sleep: noSleep })).rejects.toMatchObject({
      code: 'ERR_HEALTH',
      phase: 'restart',
      details: { service: 'ollama-direct' },
      hint: expect.stringMatching(/elevated/),
    });
  });
});
