import { describe, expect, it } from 'vitest';
import { parseCommandLine } from './args.js';

const run = (argv: string[], tty = true) => {
  const r = parseCommandLine(argv, tty);
  if (r.kind !== 'run') throw new Error(`expected a command, got ${r.kind}`);
  return r.parsed;
};

describe('parseCommandLine', () => {
  it('reads scope, durations and common flags into an options object', () => {
    const p = run(['stop', '--install-dir', '/a', '--install-dir', '/b c', '--grace', '500ms', '--timeout', '2m', '--json', '--dry-run', '--log-file', '/tmp/x.log']);
    expect(p.command).toBe('stop');
    expect(p.common).toMatchObject({ installDirs: ['/a', '/b c'], graceMs: 500, timeoutMs: 120_000, json: true, dryRun: true, logFile: '/tmp/x.log', yes: false });
  });
  it('defaults to a 5 s grace and a 30 s timeout', () => {
    expect(run(['stop']).common).toMatchObject({ graceMs: 5_000, timeoutMs: 30_000, installDirs: [] });
  });
  it('never prompts when stdin is not a TTY', () => {
    expect(run(['apply', 'pkg.tar.gz'], false).common.yes).toBe(true);
    expect(run(['apply', 'pkg.tar.gz', '--yes'], true).common.yes).toBe(true);
  });
  it("keeps pack's --version V apart from our own --version", () => {
    const p = run(['pack', 'dir', '--name', 'ollama', '--version', '2.0.0', '--out', 'x.tar.gz']);
    expect(p.values['package-version']).toBe('2.0.0');
    expect(p.positionals).toEqual(['dir']);
    expect(parseCommandLine(['--version'], true)).toEqual({ kind: 'version' });
  });
  it('answers help for the tool and for a command', () => {
    expect(parseCommandLine([], true)).toEqual({ kind: 'help' });
    expect(parseCommandLine(['stop', '--help'], true)).toEqual({ kind: 'help', command: 'stop' });
    expect(parseCommandLine(['help', 'apply'], true)).toEqual({ kind: 'help', command: 'apply' });
  });
  it('refuses unknown commands, unknown options and bad durations as usage errors (exit 2)', () => {
    for (const argv of [['frobnicate'], ['stop', '--frob'], ['stop', '--grace', 'soon']]) {
      try {
        parseCommandLine(argv, true);
        expect.unreachable(`accepted ${argv.join(' ')}`);
      } catch (e) {
        expect((e as { code: string; exitCode: number }).code).toBe('ERR_USAGE');
        expect((e as { exitCode: number }).exitCode).toBe(2);
      }
    }
  });
});
