import { describe, expect, it } from 'vitest';
import { COMMANDS, optionTable } from './args.js';
import { completionScript, completionSpec, SHELLS } from './completion.js';

describe('completion scripts', () => {
  it('are generated from the option table: every option and command is in every script', () => {
    const options = optionTable()
      .map((o) => o.name)
      .filter((n) => n !== 'package-version');
    for (const shell of SHELLS) {
      const script = completionScript(shell);
      for (const c of COMMANDS) expect(script, `${shell}: ${c}`).toContain(c);
      for (const o of options) expect(script, `${shell}: --${o}`).toMatch(new RegExp(`(--| -l )${o}\\b`));
    }
  });
  it("complete each command's own options, paths after path options", () => {
    const spec = completionSpec();
    expect(spec.options.apply).toEqual(expect.arrayContaining(['--allow-downgrade', '--adopt', '--feed', '--install-dir']));
    expect(spec.options.stop).not.toContain('--allow-downgrade');
    expect(spec.options.check).toContain('--exit-code');
    expect(spec.pathOptions).toEqual(expect.arrayContaining(['--install-dir', '--log-file', '--out', '--public-key']));
    expect(spec.pathOptions).not.toContain('--timeout');
    expect(spec.commands.find((c) => c.name === 'status')?.about).toMatch(/installed version/);
  });
  it('shell-specific registration', () => {
    expect(completionScript('bash')).toContain('complete -o filenames -F _llm_upgrade llm-upgrade');
    expect(completionScript('zsh')).toMatch(/^#compdef llm-upgrade/);
    expect(completionScript('fish')).toContain("complete -c llm-upgrade -n '__fish_seen_subcommand_from check' -l exit-code");
    expect(completionScript('powershell')).toContain('Register-ArgumentCompleter -Native -CommandName llm-upgrade');
    expect(() => completionScript('tcsh')).toThrowError(/no completion for "tcsh"/);
  });
});
