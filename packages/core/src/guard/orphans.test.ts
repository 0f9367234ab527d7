import { describe, expect, it } from 'vitest';
import { parentGone, recordParents, splitOrphans, type ParentHistory } from './orphans.js';
import type { ProcessInfo, ScopedProcess } from '../types.js';

const p = (pid: number, ppid: number, startTime: number, extra: Partial<ScopedProcess> = {}): ScopedProcess => ({
  pid,
  ppid,
  name: `p${pid}`,
  exe: null,
  cmdline: [],
  startTime,
  startKey: String(startTime),
  user: null,
  state: 'S',
  role: 'engine',
  inScope: true,
  orphan: true,
  ...extra,
});

describe('parent gone', () => {
  it('reparented to PID 1, to a parent that started later (subreaper), or away from the first-seen parent', () => {
    const history: ParentHistory = new Map();
    const shell = p(50, 1, 10, { inScope: false, orphan: false, role: 'other' });
    const shellEngine = p(51, 50, 20);
    const initOrphan = p(60, 1, 30);
    const reaper = p(70, 1, 500, { inScope: false, orphan: false, role: 'other' });
    const adopted = p(71, 70, 40);
    const before: ProcessInfo[] = [
      shell,
      shellEngine,
      initOrphan,
      reaper,
      adopted,
      p(80, 1, 5, { inScope: false, role: 'other' }),
      p(81, 80, 45),
    ];
    recordParents(history, before);
    const byPid = new Map(before.map((x) => [x.pid, x]));
    expect(parentGone(shellEngine, byPid, history)).toBe(false);
    expect(parentGone(initOrphan, byPid, history)).toBe(true);
    expect(parentGone(adopted, byPid, history)).toBe(true);
    // 81 was first seen under 80; now 80 is gone and 81 sits under 50 (an older subreaper).
    const moved = p(81, 50, 45);
    expect(
      parentGone(
        moved,
        new Map([
          [50, shell],
          [81, moved],
        ]),
        history,
      ),
    ).toBe(true);
  });

  it("splits classify's orphans into parent-gone and shell-parented", () => {
    const history: ParentHistory = new Map();
    const all = [
      p(50, 1, 10, { inScope: false, orphan: false, role: 'other' }),
      p(51, 50, 20),
      p(60, 1, 30),
      p(61, 60, 31, { orphan: false }),
    ];
    recordParents(history, all);
    const { gone, parented } = splitOrphans(all, history);
    expect(gone.map((x) => x.pid)).toEqual([60]);
    expect(parented.map((x) => x.pid)).toEqual([51]);
  });
});
