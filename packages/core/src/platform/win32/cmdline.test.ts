import { describe, expect, it } from 'vitest';
import { splitCommandLine } from './cmdline.js';

describe('splitCommandLine (CommandLineToArgvW rules)', () => {
  it('keeps a quoted program path with spaces whole and never unescapes it', () => {
    expect(splitCommandLine('"C:\\Program Files\\Ollama\\ollama app.exe" ')).toEqual(['C:\\Program Files\\Ollama\\ollama app.exe']);
    expect(splitCommandLine('C:\\a\\ollama.exe serve')).toEqual(['C:\\a\\ollama.exe', 'serve']);
  });
  // The table in Microsoft's "Parsing C++ command-line arguments".
  it.each([
    ['"a b c" d e', ['a b c', 'd', 'e']],
    ['"ab\\"c" "\\\\" d', ['ab"c', '\\', 'd']],
    ['a\\\\\\b d"e f"g h', ['a\\\\\\b', 'de fg', 'h']],
    ['a\\\\\\"b c d', ['a\\"b', 'c', 'd']],
    ['a\\\\\\\\"b c" d e', ['a\\\\b c', 'd', 'e']],
    ['a"b"" c d', ['ab" c d']],
  ])('%s', (args, expected) => {
    expect(splitCommandLine(`prog.exe ${args}`)).toEqual(['prog.exe', ...expected]);
  });
  it('is empty for an empty line', () => {
    expect(splitCommandLine('   ')).toEqual([]);
  });
});
