import { describe, expect, it } from 'vitest';
import type { LlmUpgradeError } from '@llm-upgrade/core';
import { parseManifest } from './manifest.js';

const h = 'a'.repeat(64);
const base = {
  name: 'ollama',
  version: '0.12.3',
  platform: 'linux-x64',
  files: [{ path: 'bin/ollama', size: 10, sha256: h, mode: 0o755 }],
};
const code = (doc: unknown): string => {
  try {
    parseManifest(JSON.stringify(doc), 'test');
    return 'ok';
  } catch (e) {
    return (e as LlmUpgradeError).code;
  }
};

describe('parseManifest', () => {
  it('accepts a valid manifest with links and smoke', () => {
    const m = parseManifest(
      JSON.stringify({ ...base, links: [{ path: 'lib/a.so', link: 'a.so.1' }], smoke: ['bin/ollama', '--version'] }),
      't',
    );
    expect(m.version).toBe('0.12.3');
    expect(m.links).toEqual([{ path: 'lib/a.so', link: 'a.so.1' }]);
  });
  it('names what is wrong', () => {
    expect(code({ ...base, version: '1.2' })).toBe('ERR_NOT_SEMVER');
    expect(code({ ...base, name: '' })).toBe('ERR_BAD_PACKAGE');
    expect(code({ ...base, files: undefined })).toBe('ERR_BAD_PACKAGE');
    expect(code({ ...base, files: [{ ...base.files[0], size: -1 }] })).toBe('ERR_BAD_PACKAGE');
    expect(code({ ...base, files: [{ ...base.files[0], sha256: 'A'.repeat(64) }] })).toBe('ERR_BAD_PACKAGE');
    expect(code({ ...base, files: [{ ...base.files[0], path: '../x' }] })).toBe('ERR_UNSAFE_ENTRY');
    expect(code({ ...base, files: [base.files[0], { ...base.files[0], path: 'BIN/ollama' }] })).toBe('ERR_UNSAFE_ENTRY');
    expect(code({ ...base, files: [base.files[0], { ...base.files[0], path: 'bin/ollama/x' }] })).toBe('ERR_UNSAFE_ENTRY');
    expect(code({ ...base, links: [{ path: 'l', link: '/etc' }] })).toBe('ERR_UNSAFE_ENTRY');
    expect(code({ ...base, files: [{ ...base.files[0], path: 'llm-upgrade.json' }] })).toBe('ERR_BAD_PACKAGE');
    expect(code({ ...base, smoke: [] })).toBe('ERR_BAD_PACKAGE');
    expect(() => parseManifest('{', 't')).toThrow(/not valid JSON/);
  });
});
