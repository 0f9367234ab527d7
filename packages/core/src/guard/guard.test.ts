import { describe, expect, it } from 'vitest';
import { Lineage } from './lineage.js';
import { exitStatusOf } from './run-guarded.js';
import { membersAndDescendants, parseWatchdogLine } from './watchdog.js';
import { EXTENDED_LIMIT_INFORMATION_BYTES, killOnCloseLimits } from '../platform/win32/job.js';
import type { LineageEntry } from './types.js';

const e = (pid: number, ppid: number, startTime: number, live = true): LineageEntry => ({
  pid,
  ppid,
  startKey: String(startTime),
  startTime,
  name: `p${pid}`,
  live,
});

describe('Lineage', () => {
  it('follows children of the root and their children, whatever the scan order', () => {
    const l = new Lineage(10);
    const added = l.update([e(30, 20, 300), e(20, 10, 200), e(40, 1, 400), e(10, 1, 100)]);
    expect(added.map((x) => x.pid).sort()).toEqual([20, 30]);
    expect(l.liveIn([e(20, 10, 200), e(30, 20, 300)]).map((x) => x.pid)).toEqual([20, 30]);
  });

  it('keeps members that were reparented elsewhere (macOS/Windows: no subreaper)', () => {
    const l = new Lineage(10);
    l.update([e(20, 10, 200), e(30, 20, 300)]);
    const later = [e(30, 1, 300)];
    l.update(later);
    expect(l.liveIn(later).map((x) => x.pid)).toEqual([30]);
  });

  it("a stale parent pid reused by a stranger does not pull the stranger's children in", () => {
    const l = new Lineage(10);
    l.update([e(20, 10, 200)]);
    // pid 20 exits and is reused (a new start time); its child started after the reuse
    const added = l.update([e(20, 1, 900), e(50, 20, 950)]);
    expect(added).toEqual([]);
  });

  it('a child that claims a parent which started after it is not a child (Windows pid reuse)', () => {
    const l = new Lineage(10);
    l.update([e(20, 10, 200)]);
    expect(l.update([e(60, 20, 150)])).toEqual([]);
  });

  it('excluded pids (the watchdog) and zombie children to reap', () => {
    const l = new Lineage(10, new Set([11]));
    const scan = [e(11, 10, 110), e(20, 10, 200, false), e(30, 20, 300)];
    expect(l.update(scan).map((x) => x.pid)).toEqual([20, 30]);
    expect(l.zombieChildrenIn(scan)).toEqual([20]);
  });
});

describe('watchdog', () => {
  it('parses its wire format', () => {
    expect(parseWatchdogLine('+ 123 4567')).toEqual({ kind: 'member', pid: 123, startKey: '4567' });
    expect(parseWatchdogLine('done')).toEqual({ kind: 'done' });
    expect(parseWatchdogLine('rubbish')).toBeNull();
  });

  it('ends live members and their descendants, identity-checked', () => {
    const scan = [e(20, 1, 200), e(30, 20, 300), e(31, 30, 310, false), e(40, 1, 400), e(50, 1, 500)];
    const members = new Map([
      [20, '200'],
      [50, '499'],
    ]);
    expect(membersAndDescendants(scan, members).map((x) => x.pid)).toEqual([20, 30]);
  });
});

describe('exit status', () => {
  it('is the code, or 128 + N for signal N', () => {
    expect(exitStatusOf(0, null)).toBe(0);
    expect(exitStatusOf(7, null)).toBe(7);
    expect(exitStatusOf(null, 'SIGKILL')).toBe(137);
    expect(exitStatusOf(null, 'SIGTERM')).toBe(143);
  });
});

describe('Job Object limits', () => {
  it('JOBOBJECT_EXTENDED_LIMIT_INFORMATION (x64) with KILL_ON_JOB_CLOSE in LimitFlags', () => {
    const b = killOnCloseLimits();
    expect(b.length).toBe(EXTENDED_LIMIT_INFORMATION_BYTES);
    expect(b.readUInt32LE(16)).toBe(0x2000);
    expect([...b].filter((x) => x !== 0).length).toBe(1);
  });
});
