import { describe, expect, it } from 'vitest';
import { recoveredLine } from './recover.js';

describe('recover result line', () => {
  it('says which way it went, the arrow no longer backwards', () => {
    expect(recoveredLine({ action: 'rolled-back', from: '3.0.0', to: '4.0.0', movesUndone: 5, restarted: null })).toBe(
      'rolled back to 3.0.0 (the interrupted upgrade to 4.0.0 was undone; 5 move(s) reversed)',
    );
    expect(recoveredLine({ action: 'committed', from: '3.0.0', to: '4.0.0', movesUndone: 0, restarted: null })).toMatch(
      /^rolled forward to 4\.0\.0/,
    );
    expect(recoveredLine({ action: 'nothing', from: null, to: null, movesUndone: 0, restarted: null })).toBe(
      'no interrupted upgrade to recover',
    );
  });
});
