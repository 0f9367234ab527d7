import { describe, expect, it } from 'vitest';
import { closest, editDistance } from './suggest.js';

describe('did-you-mean', () => {
  it('counts a transposition as one edit', () => {
    expect(editDistance('grace', 'grace')).toBe(0);
    expect(editDistance('grce', 'grace')).toBe(1);
    expect(editDistance('grcae', 'grace')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
  });
  it('suggests typos and unique abbreviations, and nothing for what is far from everything', () => {
    const commands = ['status', 'stop', 'sweep', 'holders', 'apply', 'rollback', 'recover', 'check', 'pack'];
    expect(closest('stauts', commands)).toBe('status');
    expect(closest('aply', commands)).toBe('apply');
    expect(closest('rollb', commands)).toBe('rollback');
    expect(closest('nosuch', commands)).toBeUndefined();
    expect(closest('x', commands)).toBeUndefined();
  });
});
