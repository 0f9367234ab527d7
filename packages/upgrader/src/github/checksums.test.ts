import { describe, expect, it } from 'vitest';
import { parseSha256Sums, sha256OfDigest } from './checksums.js';

const a = 'a'.repeat(64);
const b = 'B'.repeat(64);

describe('parseSha256Sums', () => {
  it('reads text and binary mode lines and strips ./', () => {
    const m = parseSha256Sums(`${a}  ./ollama-linux-amd64.tar.zst\n${b} *ollama-windows-amd64.zip\r\n\nnot a line\n`);
    expect([...m]).toEqual([
      ['ollama-linux-amd64.tar.zst', a],
      ['ollama-windows-amd64.zip', 'b'.repeat(64)],
    ]);
  });
  it('drops a name listed with two different digests', () => {
    expect(parseSha256Sums(`${a}  x.tgz\n${'c'.repeat(64)}  ./x.tgz\n`).has('x.tgz')).toBe(false);
  });
});

describe('sha256OfDigest', () => {
  it('takes sha256 only', () => {
    expect(sha256OfDigest(`sha256:${b}`)).toBe('b'.repeat(64));
    expect(sha256OfDigest(`sha512:${a}`)).toBeNull();
    expect(sha256OfDigest(null)).toBeNull();
  });
});
