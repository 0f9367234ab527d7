import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from './duration.js';

describe('parseDuration', () => {
  it('reads the units of the CLI contract', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('5s')).toBe(5000);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('1h')).toBe(3_600_000);
  });
  it('refuses what is not a duration, as a usage error', () => {
    expect(() => parseDuration('soon', '--grace')).toThrowError(/--grace: "soon" is not a duration/);
    try {
      parseDuration('-1s');
    } catch (e) {
      expect((e as { code: string }).code).toBe('ERR_USAGE');
    }
  });
  it('requires a unit: a bare number could be seconds or milliseconds', () => {
    expect(() => parseDuration('5', '--grace')).toThrowError('--grace 5 needs a unit: 5s, 5ms, 5m');
  });
  it('refuses a duration beyond the bound', () => {
    expect(() => parseDuration('10000000m', '--grace', 3_600_000)).toThrowError('--grace 10000000m is longer than the 1h it allows');
    expect(() => parseDuration('25h', '--timeout')).toThrowError(/longer than the 24h/);
    expect(parseDuration('60m', '--grace', 3_600_000)).toBe(3_600_000);
  });
  it('formats a bound in its largest whole unit', () => {
    expect([formatDuration(3_600_000), formatDuration(90_000), formatDuration(1500), formatDuration(2000)]).toEqual([
      '1h',
      '90s',
      '1500ms',
      '2s',
    ]);
  });
});
