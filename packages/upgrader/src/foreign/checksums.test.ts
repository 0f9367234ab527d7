import { describe, expect, it } from 'vitest';
import { normaliseDigest, parseSha256Sums } from './checksums.js';

const a = 'a'.repeat(64);
const b = 'B'.repeat(64);

describe('parseSha256Sums', () => {
  it("reads Ollama's `<hex>  ./<name>`, plain names, binary-mode `*name` and BSD tags", () => {
    const m = parseSha256Sums(
      `${a}  ./ollama-linux-amd64.tar.zst\n${b} *ollama-linux-amd64-rocm.tar.zst\r\n\n# comment\nSHA256 (OllamaSetup.exe) = ${a}\n${a}  name with spaces.zip\n`,
      'sha256sum.txt',
    );
    expect([...m]).toEqual([
      ['ollama-linux-amd64.tar.zst', a],
      ['ollama-linux-amd64-rocm.tar.zst', 'b'.repeat(64)],
      ['OllamaSetup.exe', a],
      ['name with spaces.zip', a],
    ]);
  });
  it('refuses a malformed line, conflicting digests and an empty file, naming the file', () => {
    expect(() => parseSha256Sums(`${a}  ./x\nnot a checksum\n`, 'S')).toThrow(/S: line 2/);
    expect(() => parseSha256Sums(`${a}  ./x\n${'c'.repeat(64)}  x\n`, 'S')).toThrow(/x is listed twice/);
    expect(() => parseSha256Sums('\n', 'S')).toThrow(/S lists no checksums/);
    expect(() => parseSha256Sums(`${a.slice(1)}  x\n`, 'S')).toThrow(/line 1/);
  });
  it('normalises GitHub digests', () => {
    expect(normaliseDigest(`sha256:${b}`)).toBe('b'.repeat(64));
    expect(normaliseDigest(a)).toBe(a);
    expect(normaliseDigest('sha512:abc')).toBeNull();
  });
});
