import { describe, expect, it, vi } from 'vitest';
import type { StopResult } from '@llm-upgrade/core';
import { describeCoreEvent, fromLabel, listFew, stopError, WaitTracker } from './render.js';

const proc = (pid: number, name: string) => ({
  pid,
  ppid: 1,
  name,
  exe: `/opt/x/${name}`,
  startTime: 1,
  role: 'engine',
  inScope: true,
  orphan: false,
});

describe('render', () => {
  it('lists a few, then how many more', () => {
    expect(listFew(['a', 'b'])).toBe('a, b');
    expect(listFew(['a', 'b', 'c', 'd', 'e'])).toBe('a, b, c +2 more');
  });
  it('a wait names what it waits for and the deadline: grace first, then the timeout', () => {
    vi.useFakeTimers();
    try {
      vi.setSystemTime(0);
      const waits = new WaitTracker(5_000, 30_000);
      for (const [pid, name] of [
        [11, 'ollama'],
        [12, 'llama-server'],
        [13, 'llama-server'],
        [14, 'llama-server'],
      ] as const)
        describeCoreEvent({ type: 'signal', pid, name, signal: 'SIGTERM' }, waits);
      describeCoreEvent({ type: 'exited', pid: 11, name: 'ollama', how: 'terminated' }, waits);
      vi.setSystemTime(1_900);
      expect(describeCoreEvent({ type: 'wait', remaining: 3, elapsedMs: 1_900 }, waits)).toBe(
        'waiting for llama-server (pid 12), llama-server (pid 13), llama-server (pid 14) to exit; grace ends in 3.1s',
      );
      describeCoreEvent({ type: 'signal', pid: 15, name: 'x', signal: 'SIGTERM' }, waits);
      vi.setSystemTime(6_000);
      expect(describeCoreEvent({ type: 'wait', remaining: 4, elapsedMs: 6_000 }, waits)).toBe(
        'waiting for llama-server (pid 12), llama-server (pid 13), llama-server (pid 14) +1 more to exit; gives up in 24.0s',
      );
    } finally {
      vi.useRealTimers();
    }
  });
  it('stop exit 3 is one error naming survivors and holders', () => {
    const r = {
      ok: false,
      stopped: [],
      plan: [],
      services: [],
      warnings: [],
      unknown: [],
      complete: true,
      dryRun: false,
      durationMs: 1,
      survivors: [{ ...proc(12, 'llama-server'), why: 'ignored SIGKILL' }],
      holders: [{ pid: 99, name: 'tail', exe: '/usr/bin/tail', path: '/opt/x/lib.so', kind: 'fd', inScope: false }],
    } as unknown as StopResult;
    const e = stopError(r, 'stop');
    expect(e.code).toBe('ERR_SURVIVORS');
    expect(e.exitCode).toBe(3);
    expect(e.message).toBe('1 process(es) still running: llama-server (pid 12); 1 file(s) still held: /opt/x/lib.so by tail (pid 99)');
    expect(stopError({ ...r, survivors: [] }, 'sweep')).toMatchObject({ code: 'ERR_FILES_HELD', phase: 'sweep', changed: false });
  });
  it('a fresh install starts from nothing, an install we did not make from an unknown version', () => {
    expect([fromLabel(null, true), fromLabel(null, false), fromLabel('1.0.0', true)]).toEqual([
      'nothing installed',
      'unknown version',
      '1.0.0',
    ]);
  });
});
