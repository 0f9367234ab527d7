// docs/design.md is the contract: its exit-code, error-code, defaults and backend tables must
// say what the code does. A value added to the code without a row there fails here.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from './defaults.js';
import { EXIT, EXIT_BY_CODE, type ErrorCode } from './errors.js';

const doc = readFileSync(fileURLToPath(new URL('../../../docs/design.md', import.meta.url)), 'utf8');
const backendSource = readFileSync(fileURLToPath(new URL('./platform/backend.ts', import.meta.url)), 'utf8');

/** The table rows (cells trimmed) of the `## title…` section. */
function rows(title: string): string[][] {
  const start = doc.indexOf(`## ${title}`);
  expect(start, `docs/design.md has a "## ${title}" section`).toBeGreaterThanOrEqual(0);
  const end = doc.indexOf('\n## ', start + 3);
  return doc
    .slice(start, end === -1 ? undefined : end)
    .split('\n')
    .filter((l) => l.startsWith('|') && !/^\|\s*-/.test(l))
    .slice(1)
    .map((l) =>
      l
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim()),
    );
}

describe('docs/design.md matches the code', () => {
  it('lists every exit code of EXIT, under its name', () => {
    const table = rows('Exit codes');
    for (const [name, code] of Object.entries(EXIT)) {
      const row = table.find((r) => r[1]?.split(' / ').includes(`\`${name}\``));
      expect(row, `exit code ${name}`).toBeDefined();
      const names = row![1]!.split(' / ');
      expect(row![0]!.split(' / ')[names.indexOf(`\`${name}\``)], `exit code ${name}`).toBe(String(code));
    }
    expect(table.flatMap((r) => r[1]!.split(' / ')).length).toBe(Object.keys(EXIT).length);
  });

  it('lists every error code with the exit code it ends a command with', () => {
    const table = new Map(rows('Error codes').map((r) => [r[0]!.replace(/`/g, ''), r[1]!]));
    for (const [code, exit] of Object.entries(EXIT_BY_CODE) as [ErrorCode, number][]) {
      const documented = table.get(code);
      expect(documented, code).toBeDefined();
      if (code === 'ERR_INTERRUPTED') expect(documented).toBe(`${EXIT.hangup}/${EXIT.interrupted}/${EXIT.terminated}`);
      else expect(documented, code).toBe(String(exit));
    }
    expect([...table.keys()].sort()).toEqual(Object.keys(EXIT_BY_CODE).sort());
  });

  it('lists every DEFAULTS entry with its value', () => {
    const table = new Map(rows('Defaults').map((r) => [r[0]!.replace(/`/g, ''), r[1]!]));
    for (const [key, value] of Object.entries(DEFAULTS)) {
      expect(table.get(key), key).toBe(key.endsWith('Ms') ? `${value} ms` : String(value));
    }
    expect([...table.keys()].sort()).toEqual(Object.keys(DEFAULTS).sort());
  });

  it('describes every PlatformBackend method', () => {
    const methods = [...backendSource.matchAll(/^ {2}(\w+)(\?)?\(/gm)].map((m) => (m[2] ? `${m[1]}\` (optional)` : `${m[1]}\``));
    expect(methods.length).toBeGreaterThan(10);
    const documented = rows('OS backends').map((r) => r[0]!.replace(/^`/, ''));
    expect(documented.sort()).toEqual(methods.sort());
  });
});
