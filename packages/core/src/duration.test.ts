import { describe, expect, it } from 'vitest';
import { parseDuration } from './duration.js';

describe('parseDuration', () => {
  it('reads the units of the CLI contract', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('5s')).toBe(5000);
    expect(parseDuration('2m')).toBe(120_000);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('3')).toBe(3000);
  });
  it('refuses what is not a duration, as a usage error', () => {
    expect(() => parseDuration('soon', '--grace')).toThrowError(/--grace: "soon" is not a duration/);
    try { parseDuration('-1s'); } catch (e) { expect((e as { code: string }).code).toBe('ERR_USAGE'); }
  });
});
