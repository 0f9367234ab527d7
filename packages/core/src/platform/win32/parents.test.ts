import { describe, expect, it } from 'vitest';
import { resolveParents } from './parents.js';
import { recorded } from './recorded.js';

describe('resolveParents', () => {
  it('keeps a live parent created before the child', () => {
    expect(
      resolveParents([
        { pid: 1, rawPpid: 0, creation: 10n },
        { pid: 2, rawPpid: 1, creation: 20n },
      ]).get(2),
    ).toBe(1);
  });
  it('drops a parent pid that was reused by a later process', () => {
    expect(
      resolveParents([
        { pid: 1, rawPpid: 0, creation: 30n },
        { pid: 2, rawPpid: 1, creation: 20n },
      ]).get(2),
    ).toBe(0);
  });
  it('drops a dead parent and a self-parent (System Idle)', () => {
    const r = resolveParents([
      { pid: 0, rawPpid: 0, creation: null },
      { pid: 2, rawPpid: 77, creation: 20n },
    ]);
    expect(r.get(0)).toBe(0);
    expect(r.get(2)).toBe(0);
  });
  it('keeps the link when a creation time is unknown', () => {
    expect(
      resolveParents([
        { pid: 4, rawPpid: 0, creation: null },
        { pid: 9, rawPpid: 4, creation: 20n },
      ]).get(9),
    ).toBe(4);
  });
  it('on a Wine process list: services.exe names a parent that already exited', () => {
    const rows = recorded('win32/wine8-winproc-probe-list.txt')
      .split(/\r?\n/)
      .filter(Boolean)
      .map((l) => l.split('\t'))
      .map(([pid, ppid, creation]) => ({
        pid: Number(pid),
        rawPpid: Number(ppid),
        creation: creation && creation !== '-' ? BigInt(creation) : null,
      }));
    const r = resolveParents(rows);
    const services = rows.find((x) => x.rawPpid === 48);
    expect(services).toBeDefined();
    expect(r.get(services?.pid ?? -1)).toBe(0);
    const winedevice = rows.find((x) => x.rawPpid === services?.pid);
    expect(r.get(winedevice?.pid ?? -1)).toBe(services?.pid);
  });
});
