import { describe, expect, it } from 'vitest';
import { describeUpgradeEvent, RateMeter } from './upgrade-events.js';

const MiB = 1024 * 1024;

describe('upgrade event lines', () => {
  it('say done/total first, the percentage after', () => {
    expect(describeUpgradeEvent({ type: 'stage', bytes: 8, totalBytes: 100, files: 3, totalFiles: 10 })).toBe('staging 3/10 files, 8%');
    expect(describeUpgradeEvent({ type: 'swap', done: 2, total: 5 })).toBe('swapping 2/5 entries');
  });
  it('the download shows its rate and what is left', () => {
    let now = 0;
    const rate = new RateMeter(() => now);
    const line = (received: number) =>
      describeUpgradeEvent({ type: 'download', url: 'u', receivedBytes: received, totalBytes: 100 * MiB }, { rate });
    expect(line(0)).toBe('downloading 0.0/100.0 MiB, 0%');
    now = 2_000;
    expect(line(10 * MiB)).toBe('downloading 10.0/100.0 MiB, 10%, 5.0 MiB/s, 18s left');
    now = 4_000;
    expect(line(10 * MiB)).toBe('downloading 10.0/100.0 MiB, 10%, 2.5 MiB/s, 36s left');
    expect(new RateMeter(() => 0).sample(0, 1)).toBe('');
  });
  it('recovery says which way it went', () => {
    expect(describeUpgradeEvent({ type: 'recovered', action: 'committed', moves: 0 })).toContain('rolled forward');
    expect(describeUpgradeEvent({ type: 'recovered', action: 'rolled-back', moves: 4 })).toContain('rolled back (4 move(s) reversed)');
  });
});
