import { describe, expect, it } from 'vitest';
import { LlmUpgradeError } from './errors.js';
import { assertSelfNotInScope, selfAndAncestors } from './self.js';
import type { ScopedProcess } from './types.js';

const scoped = (pid: number, exe: string): ScopedProcess => ({
  pid,
  ppid: 1,
  name: 'ollama',
  exe,
  cmdline: [],
  startTime: 0,
  startKey: '1',
  user: 'root',
  role: 'server',
  inScope: true,
  orphan: false,
});

describe('self protection', () => {
  it('walks our ancestors through the snapshot', () => {
    const snap = {
      processes: [
        { pid: 50, ppid: 40 },
        { pid: 40, ppid: 30 },
        { pid: 30, ppid: 1 },
        { pid: 1, ppid: 0 },
        { pid: 99, ppid: 1 },
      ].map((p) => ({ ...p, name: '', exe: null, cmdline: [], startTime: 0, startKey: '', user: null })),
    };
    expect([...selfAndAncestors(snap, 50)].sort((a, b) => a - b)).toEqual([1, 30, 40, 50]);
  });
  it('refuses with ERR_SELF_IN_SCOPE naming pid and exe, before anything changed', () => {
    try {
      assertSelfNotInScope([scoped(7, '/opt/ollama/bin/ollama')], new Set([7, 1]), 'stop');
      expect.fail('should have thrown');
    } catch (e) {
      expect(e).toBeInstanceOf(LlmUpgradeError);
      const err = e as LlmUpgradeError;
      expect(err).toMatchObject({ code: 'ERR_SELF_IN_SCOPE', phase: 'stop', changed: false });
      expect(err.message).toContain('pid 7');
      expect(err.message).toContain('/opt/ollama/bin/ollama');
      expect(err.exitCode).toBe(3);
    }
    expect(() => assertSelfNotInScope([scoped(8, '/x')], new Set([7]), 'sweep')).not.toThrow();
  });
});
