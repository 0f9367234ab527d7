import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LlmUpgradeError } from './errors.js';
import { defaultRoots, expandPath, loadProfile, ollamaProfile, resolveProfile, validateProfile } from './profile.js';

const dir = mkdtempSync(join(tmpdir(), 'llm-upgrade-profile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, content: string): string {
  const file = join(dir, name);
  writeFileSync(file, content);
  return file;
}

function usageError(f: () => unknown): LlmUpgradeError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(LlmUpgradeError);
    expect((e as LlmUpgradeError).code).toBe('ERR_USAGE');
    expect((e as LlmUpgradeError).exitCode).toBe(2);
    return e as LlmUpgradeError;
  }
  return expect.fail('expected ERR_USAGE');
}

describe('profiles', () => {
  it('loads a valid profile file', () => {
    const file = write(
      'lm.json',
      JSON.stringify({
        name: 'lmrunner',
        roots: { linux: ['/opt/lm'], win32: ['%LOCALAPPDATA%\\LM'] },
        services: { systemd: ['lm'] },
        processes: { server: ['lm'], engine: ['lm-engine'] },
        healthUrl: 'http://127.0.0.1:1234/health',
        versionCommand: ['bin/lm', '--version'],
      }),
    );
    const p = loadProfile(file);
    expect(p).toMatchObject({
      name: 'lmrunner',
      processes: { supervisor: [], server: ['lm'], engine: ['lm-engine'] },
      services: { systemd: ['lm'] },
    });
    expect(resolveProfile(file).name).toBe('lmrunner');
    expect(resolveProfile('ollama')).toBe(ollamaProfile);
  });
  it('names the file and the field in every complaint', () => {
    expect(usageError(() => loadProfile(join(dir, 'missing.json'))).message).toMatch(/missing\.json: cannot read it \(ENOENT\)/);
    expect(usageError(() => loadProfile(write('bad.json', '{ nope'))).message).toMatch(/bad\.json: not valid JSON/);
    expect(usageError(() => loadProfile(write('arr.json', '[]'))).message).toMatch(/must be a JSON object/);
    expect(usageError(() => loadProfile(write('noname.json', '{"processes":{}}'))).message).toMatch(/"name" must be a non-empty string/);
    expect(usageError(() => loadProfile(write('noproc.json', '{"name":"x"}'))).message).toMatch(/"processes" must be an object/);
    expect(usageError(() => loadProfile(write('role.json', '{"name":"x","processes":{"daemon":["d"]}}'))).message).toMatch(
      /"processes\.daemon" is not a role/,
    );
    expect(usageError(() => loadProfile(write('names.json', '{"name":"x","processes":{"engine":"e"}}'))).message).toMatch(
      /"processes\.engine" must be an array/,
    );
    expect(usageError(() => loadProfile(write('os.json', '{"name":"x","processes":{},"roots":{"beos":["/x"]}}'))).message).toMatch(
      /"roots\.beos" is not an OS/,
    );
    expect(usageError(() => loadProfile(write('url.json', '{"name":"x","processes":{},"healthUrl":"ftp://x"}'))).message).toMatch(
      /"healthUrl" must be an http\(s\) URL/,
    );
    expect(usageError(() => loadProfile(write('cmd.json', '{"name":"x","processes":{},"versionCommand":[]}'))).message).toMatch(
      /"versionCommand" must be a non-empty array/,
    );
    expect(usageError(() => resolveProfile('no-such-profile')).message).toMatch(/neither a built-in profile \(ollama\) nor a file/);
  });
  it('expands variables and drops roots whose variables are unset', () => {
    expect(expandPath('%LOCALAPPDATA%\\Programs\\Ollama', { LOCALAPPDATA: 'C:\\Users\\a\\AppData\\Local' })).toBe(
      'C:\\Users\\a\\AppData\\Local\\Programs\\Ollama',
    );
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the ${VAR} form is what expandPath parses
    expect(expandPath('$HOME/x/${USER}', { HOME: '/home/a', USER: 'a' })).toBe('/home/a/x/a');
    expect(expandPath('~/ollama', { HOME: '/home/b' })).toBe('/home/b/ollama');
    expect(expandPath('%LOCALAPPDATA%\\x', {})).toBeNull();
  });
  it('gives each OS the Ollama default roots', () => {
    expect(defaultRoots(ollamaProfile, 'win32', { LOCALAPPDATA: 'C:\\Users\\a\\AppData\\Local' }, () => null)).toEqual([
      'C:\\Users\\a\\AppData\\Local\\Programs\\Ollama',
    ]);
    expect(defaultRoots(ollamaProfile, 'darwin', {}, () => null)).toEqual(['/Applications/Ollama.app']);
    expect(defaultRoots(ollamaProfile, 'linux', {}, (b) => (b === 'ollama' ? '/usr/local/bin/ollama' : null))).toEqual([
      '/usr/local/bin/ollama',
      '/usr/local/lib/ollama',
    ]);
    expect(defaultRoots(ollamaProfile, 'linux', {}, () => null)).toEqual([]);
  });
  it('the example in the README is a valid profile', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const json = /## Profiles[\s\S]*?```json\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(json).toBeDefined();
    const p = validateProfile(JSON.parse(json ?? ''), 'README.md');
    expect(p).toMatchObject({
      name: 'lmrunner',
      pathRoots: { binary: 'lmrunner' },
      processes: { engine: ['lm-engine', 'lmrunner worker'] },
    });
    expect(defaultRoots(p, 'win32', { LOCALAPPDATA: 'C:\\L' }, () => null)).toEqual(['C:\\L\\Programs\\LM']);
  });
});
