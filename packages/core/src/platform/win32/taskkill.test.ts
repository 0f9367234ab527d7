import { describe, expect, it } from 'vitest';
import { recorded } from './recorded.js';
import { parseTaskkill, runTaskkill, taskkillArgs } from './taskkill.js';
import type { Exec } from '../../exec.js';

const statuses = (text: string, code: number | null = 0) =>
  Object.fromEntries([...parseTaskkill(text, '', code).perPid].map(([pid, r]) => [pid, r.status]));

describe('parseTaskkill on Windows output', () => {
  it('reads every pid of a /T /F run, not the parent pid in parentheses', () => {
    expect(statuses(recorded('win32/windows-taskkill-tree-force.txt'))).toEqual({
      8120: 'terminated',
      8164: 'terminated',
      7392: 'terminated',
      7344: 'terminated',
    });
  });
  it('joins "Reason: Access is denied." to the pid on the line before', () => {
    const out = parseTaskkill('', recorded('win32/windows-taskkill-tree-denied.txt'), 128);
    expect(out.perPid.get(9412)).toMatchObject({
      status: 'denied',
      message: expect.stringMatching(/could not be terminated\. Reason: Access is denied\./),
    });
    expect(out.perPid.get(8120)?.status).toBe('terminated');
    expect(out.perPid.get(7392)?.status).toBe('terminated');
    expect(out.perPid.has(7344)).toBe(false);
  });
  it('reads a graceful close and the force-only refusal', () => {
    expect(statuses(recorded('win32/windows-taskkill-tree-graceful.txt'))).toEqual({ 7344: 'signalled' });
    expect(statuses(recorded('win32/windows-taskkill-graceful-force-only.txt'), 1)).toEqual({ 6604: 'force-only' });
  });
  it('treats "not found" and "no running instance" as not-found', () => {
    expect(statuses(recorded('win32/windows-taskkill-not-found.txt'), 128)).toEqual({ 6604: 'not-found' });
    expect(statuses(recorded('win32/windows-taskkill-no-instance.txt'), 128)).toEqual({ 6604: 'not-found' });
  });
  it('flags a rejected command line', () => {
    const out = parseTaskkill('', recorded('win32/windows-taskkill-invalid-option.txt'), 1);
    expect(out.badSyntax).toBe(true);
    expect(out.perPid.size).toBe(0);
  });
});

describe('parseTaskkill on Wine 8 output (captured here)', () => {
  it('flags /T as unsupported and does not read the usage line as a pid', () => {
    const out = parseTaskkill(recorded('win32/wine8-taskkill-tree.txt'), '', 1);
    expect(out.badSyntax).toBe(true);
    expect(out.perPid.size).toBe(0);
  });
  it('reads forced terminations and misses', () => {
    expect(statuses(recorded('win32/wine8-taskkill-force.txt'))).toEqual({ 32: 'terminated' });
    expect(statuses(recorded('win32/wine8-taskkill-force-two-pids.txt'), 128)).toEqual({ 40: 'terminated', 4: 'not-found' });
    expect(statuses(recorded('win32/wine8-taskkill-not-found.txt'), 128)).toEqual({ 99999: 'not-found' });
    // Wine says "could not find" for a live console program asked politely: the caller must check.
    expect(statuses(recorded('win32/wine8-taskkill-graceful-console.txt'), 128)).toEqual({ 32: 'not-found' });
  });
});

describe('runTaskkill', () => {
  it('only ever passes /PID, never an image name', async () => {
    const seen: string[][] = [];
    const exec: Exec = async (file, args) => {
      seen.push([file, ...args]);
      return { code: 0, stdout: 'SUCCESS: The process with PID 12 has been terminated.\r\n', stderr: '' };
    };
    const out = await runTaskkill(exec, { pid: 12, tree: true, force: true });
    expect(seen).toEqual([['taskkill.exe', '/PID', '12', '/T', '/F']]);
    expect(out.perPid.get(12)?.status).toBe('terminated');
    expect(taskkillArgs({ pid: 5, tree: false, force: false })).toEqual(['/PID', '5']);
  });
  it('reports a missing taskkill as a spawn error', async () => {
    const out = await runTaskkill(async () => ({ code: null, stdout: '', stderr: '', error: 'ENOENT' }), {
      pid: 1,
      tree: false,
      force: true,
    });
    expect(out.spawnError).toBe('ENOENT');
  });
});
