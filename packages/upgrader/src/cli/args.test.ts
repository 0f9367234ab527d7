import { describe, expect, it } from 'vitest';
import { optionsFor, parseCommandLine } from './args.js';

const run = (argv: string[], tty = true) => {
  const r = parseCommandLine(argv, tty);
  if (r.kind !== 'run') throw new Error(`expected a command, got ${r.kind}`);
  return r.parsed;
};

describe('parseCommandLine', () => {
  it('reads scope, durations and common flags into an options object', () => {
    const p = run([
      'stop',
      '--install-dir',
      '/a',
      '--install-dir',
      '/b c',
      '--grace',
      '500ms',
      '--timeout',
      '2m',
      '--json',
      '--dry-run',
      '--log-file',
      '/tmp/x.log',
    ]);
    expect(p.command).toBe('stop');
    expect(p.common).toMatchObject({
      installDirs: ['/a', '/b c'],
      graceMs: 500,
      timeoutMs: 120_000,
      json: true,
      dryRun: true,
      logFile: '/tmp/x.log',
      yes: false,
    });
  });
  it('defaults to a 5 s grace and a 30 s timeout', () => {
    // Absent flags stay undefined so the library's defaults (DEFAULTS) apply: stop 5 s, sweep 2 s...
    expect(run(['stop']).common).toMatchObject({ graceMs: undefined, timeoutMs: undefined, installDirs: [] });
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
  it("reads apply's archives, --checksums and --version V (only a version-like V)", () => {
    const p = run(['apply', 'a.tar.zst', 'b.tar.zst', '--checksums', 'sha256sum.txt', '--version', '0.6.0']);
    expect(p.positionals).toEqual(['a.tar.zst', 'b.tar.zst']);
    expect(p.values).toMatchObject({ checksums: 'sha256sum.txt', 'package-version': '0.6.0' });
    const q = run(['apply', '--version', 'a.tar.zst', '--checksums', 's']);
    expect(q.values['package-version']).toBeUndefined();
    expect(q.positionals).toEqual(['a.tar.zst']);
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
  const usageMessage = (argv: string[]): string => {
    try {
      parseCommandLine(argv, true);
    } catch (e) {
      expect((e as { exitCode: number }).exitCode).toBe(2);
      return (e as Error).message;
    }
    throw new Error(`accepted ${argv.join(' ')}`);
  };
  it('suggests the command, help topic or option meant', () => {
    expect(usageMessage(['sweap'])).toBe('unknown command "sweap"; did you mean sweep?');
    expect(usageMessage(['help', 'rolback'])).toBe('no help for "rolback"; did you mean rollback?');
    expect(usageMessage(['stop', '--grce', '5s'])).toBe('unknown option --grce for stop; did you mean --grace?');
    expect(usageMessage(['--jsn', 'status'])).toBe('unknown option --jsn for status; did you mean --json?');
    expect(usageMessage(['pack', 'dir', '--sign-kye', 'k'])).toBe('unknown option --sign-kye for pack; did you mean --sign-key?');
    expect(usageMessage(['stop', '--zzzzzz'])).toBe('unknown option --zzzzzz for stop');
  });
  it('says an option needs a value instead of swallowing the next option', () => {
    expect(usageMessage(['stop', '--grace', '--json'])).toBe('option --grace needs a value');
    expect(usageMessage(['stop', '--json=yes'])).toBe('option --json takes no value');
    expect(run(['apply', '--smoke=-x', 'p']).values.smoke).toBe('-x');
  });
  it('requires a unit on durations and bounds them', () => {
    expect(usageMessage(['stop', '--grace', '5'])).toContain('needs a unit');
    expect(usageMessage(['stop', '--grace', '2h'])).toContain('longer than the 1h');
    expect(usageMessage(['stop', '--timeout', '25h'])).toContain('longer than the 24h');
    expect(run(['stop', '--grace', '1h', '--timeout', '24h']).common).toMatchObject({ graceMs: 3_600_000, timeoutMs: 86_400_000 });
  });
  it('reads --verbose, --exit-code and the completion command', () => {
    expect(run(['status', '--verbose']).common.verbose).toBe(true);
    expect(run(['check', '--feed', 'u', '--exit-code']).values['exit-code']).toBe(true);
    expect(run(['completion', 'bash']).positionals).toEqual(['bash']);
  });
  it("lists a command's options from its help text, the common ones, and any not documented yet", () => {
    expect(optionsFor('check')).toEqual(expect.arrayContaining(['feed', 'exit-code', 'json', 'grace']));
    expect(optionsFor('stop')).not.toContain('allow-downgrade');
    expect(optionsFor('pack')).toEqual(expect.arrayContaining(['sign-key', 'out', 'package-version']));
    expect(optionsFor('apply')).toEqual(expect.arrayContaining(['checksums', 'package-version']));
    expect(optionsFor('stop')).not.toContain('package-version');
  });
});
