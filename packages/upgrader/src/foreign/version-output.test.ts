import { describe, expect, it } from 'vitest';
import { parseVersionOutput } from './version-output.js';

describe('parseVersionOutput', () => {
  it('reads `ollama version is X`', () => {
    expect(parseVersionOutput('ollama version is 0.12.3\n')).toBe('0.12.3');
    expect(parseVersionOutput('ollama version is v0.5.7-rc1')).toBe('0.5.7-rc1');
  });
  it("prefers the client's version when a server of another version answers", () => {
    expect(parseVersionOutput('ollama version is 0.14.0\nWarning: client version is 0.15.2\n')).toBe('0.15.2');
    expect(parseVersionOutput('Warning: could not connect to a running Ollama instance\nWarning: client version is 0.6.0\n')).toBe('0.6.0');
  });
  it('falls back to the first semantic version, null without one', () => {
    expect(parseVersionOutput('tool 2.1.0 (build abc)')).toBe('2.1.0');
    expect(parseVersionOutput('version is unknown')).toBeNull();
    expect(parseVersionOutput('')).toBeNull();
  });
});
