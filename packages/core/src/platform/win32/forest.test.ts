import { describe, expect, it } from 'vitest';
import { forestRoots, rawDescendants, treeIsSafe } from './forest.js';

describe('forestRoots', () => {
  it('is every target whose parent is not a target (orphans included)', () => {
    const t = [
      { pid: 10, ppid: 1 },
      { pid: 11, ppid: 10 },
      { pid: 12, ppid: 11 },
      { pid: 20, ppid: 0 },
      { pid: 30, ppid: 99 },
    ];
    expect(forestRoots(t).map((x) => x.pid)).toEqual([10, 20, 30]);
  });
});

describe('rawDescendants / treeIsSafe', () => {
  const raw = new Map([
    [10, 1],
    [11, 10],
    [12, 11],
    [13, 10],
    [14, 14],
    [15, 16],
    [16, 15],
  ]);
  it('walks raw links without looping on self-parents or cycles', () => {
    expect([...rawDescendants(10, raw)].sort()).toEqual([11, 12, 13]);
    expect([...rawDescendants(15, raw)]).toEqual([16]);
    expect([...rawDescendants(14, raw)]).toEqual([]);
  });
  it('is safe only when /T would reach nothing but targets and nothing protected', () => {
    expect(treeIsSafe(10, raw, new Set([10, 11, 12, 13]), new Set())).toBe(true);
    expect(treeIsSafe(10, raw, new Set([10, 11, 12]), new Set())).toBe(false);
    expect(treeIsSafe(10, raw, new Set([10, 11, 12, 13]), new Set([12]))).toBe(false);
    expect(treeIsSafe(10, raw, new Set([10, 11, 12, 13]), new Set([10]))).toBe(false);
  });
});
