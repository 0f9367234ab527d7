import { describe, expect, it } from 'vitest';
import { collisionKey, unsafeLinkReason, unsafePathReason } from './paths.js';

describe('unsafePathReason', () => {
  it('accepts plain relative paths', () => {
    for (const p of ['a', 'bin/ollama', 'lib/ollama/cuda_v12/libggml-cuda.so', '.hidden', 'a..b/c'])
      expect(unsafePathReason(p), p).toBeNull();
  });
  it('refuses absolute, parent, empty segments, backslashes, drive letters, NUL and our state dir', () => {
    for (const p of [
      '/etc/passwd',
      '../x',
      'a/../../x',
      'a//b',
      './a',
      'a/./b',
      'a\\b',
      'C:/x',
      'c:x',
      'a\0b',
      '',
      '.llm-upgrade/installed.json',
      'a/',
    ]) {
      expect(unsafePathReason(p), JSON.stringify(p)).not.toBeNull();
    }
  });
});

describe('unsafeLinkReason', () => {
  it('accepts links that stay inside', () => {
    expect(unsafeLinkReason('lib/libfoo.so', 'libfoo.so.1')).toBeNull();
    expect(unsafeLinkReason('lib/a/b', '../c')).toBeNull();
    expect(unsafeLinkReason('bin/ollama', '../lib/ollama/ollama')).toBeNull();
  });
  it('refuses links that leave, are absolute, or climb after a name', () => {
    expect(unsafeLinkReason('lib/x', '../../etc')).toMatch(/leaves/);
    expect(unsafeLinkReason('x', '/etc/passwd')).toMatch(/absolute/);
    expect(unsafeLinkReason('lib/x', 'sub/../..')).toMatch(/after a name/);
    expect(unsafeLinkReason('lib/x', '..')).toMatch(/above/);
    expect(unsafeLinkReason('lib/x', './y')).not.toBeNull();
  });
});

describe('collisionKey', () => {
  it('folds case and Unicode normalisation', () => {
    expect(collisionKey('Lib/A.so')).toBe(collisionKey('lib/a.so'));
    expect(collisionKey('caf\u00e9')).toBe(collisionKey('cafe\u0301'));
  });
});
