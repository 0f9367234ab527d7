import { win32 } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT } from '@llm-upgrade/core';
import {
  HOOK_EXIT,
  MSI_AUTHORITATIVE_STOP,
  MSI_BEST_EFFORT_STOP,
  MSI_CA_BITS,
  MSI_RUN_CONDITION,
  MSI_SEQUENCE,
  MsiIdAllocator,
  isValidMsiIdentifier,
  msiStopArguments,
  nsisStopArguments,
  quoteWindowsArg,
  renderInnoIncludeFor,
  renderNsisInclude,
  resolveDescription,
  DescriptionError,
  type InstallerDescription,
} from '../src/index.js';
import { parseCommandLine } from '../../upgrader/src/cli/args.js';
import { evaluateMsiCondition } from './helpers/msi-condition.js';
import { splitWindowsArgs } from './helpers/windows-argv.js';

const base: InstallerDescription = {
  productName: 'Sample App',
  manufacturer: 'Acme',
  version: '1.2.3',
  upgradeCode: '7e1c4a52-6f0b-4c59-9d3a-2b8f1e6a0c11',
  payloadDir: 'payload',
  installDirName: 'Sample App',
  upgraderExe: 'llm-upgrade.exe',
};

/** Windows Installer's formatting of [PROPERTY] references, for the properties we use. */
function formatMsi(text: string, props: Record<string, string>): string {
  return text.replace(/\[([A-Za-z_][A-Za-z0-9_.]*)\]/g, (_, name: string) => props[name] ?? '');
}

describe('exit codes in the rendered installers', () => {
  // HOOK_EXIT is built from core's EXIT; what matters is that the installer sources act on those numbers.
  it('NSIS goes on only on exit ok and counts its own failures as internal', () => {
    const nsh = renderNsisInclude(resolveDescription(base, 'nsis'));
    expect(nsh).toContain(`\${If} $LlmUpgradeExit == ${EXIT.ok}`);
    expect(nsh).toContain(`StrCpy $LlmUpgradeExit ${EXIT.internal}`);
  });
  it('Inno Setup stops PrepareToInstall on any exit but ok, and documents held and locked', () => {
    const iss = renderInnoIncludeFor(resolveDescription(base, 'inno'));
    expect(iss).toContain(`if Code <> ${EXIT.ok} then`);
    expect(iss).toMatch(new RegExp(`${EXIT.held} a process survived[\\s\\S]*${EXIT.locked} another llm-upgrade holds the lock`));
    expect(HOOK_EXIT.locked).toBe(EXIT.locked);
  });
  it('builder failures are LlmUpgradeErrors with a code, an exit code and a hint', () => {
    let caught: unknown;
    try {
      resolveDescription({ ...base, upgradeCode: 'not-a-guid' }, 'msi');
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(DescriptionError);
    expect(caught).toMatchObject({
      code: 'ERR_BAD_DESCRIPTION',
      exitCode: EXIT.badInput,
      details: { field: 'upgradeCode' },
      hint: expect.stringContaining('upgradeCode'),
    });
  });
});

describe('MSI custom action types', () => {
  it('best effort is an EXE from the Binary table with its exit code ignored: 66', () => {
    expect(MSI_BEST_EFFORT_STOP.type).toBe(66);
    expect(MSI_BEST_EFFORT_STOP.type & 0x3f).toBe(MSI_CA_BITS.exeInBinaryTable);
    expect(MSI_BEST_EFFORT_STOP.type & MSI_CA_BITS.inScript).toBe(0);
  });
  it('the authoritative stop is deferred, no-impersonate, checked: 3074', () => {
    expect(MSI_AUTHORITATIVE_STOP.type).toBe(3074);
    expect(MSI_AUTHORITATIVE_STOP.type & MSI_CA_BITS.continueOnError).toBe(0);
    expect(MSI_AUTHORITATIVE_STOP.type & (MSI_CA_BITS.inScript | MSI_CA_BITS.noImpersonate)).toBe(0xc00);
  });
  it('sequence numbers sit between the standard actions they must precede or follow', () => {
    const s = MSI_SEQUENCE;
    expect(s.costFinalize < s.bestEffortStop && s.bestEffortStop < s.installValidate).toBe(true);
    expect(s.installInitialize < s.authoritativeStop && s.authoritativeStop < s.removeExistingProducts).toBe(true);
    expect(s.removeExistingProducts < s.processComponents && s.processComponents < s.removeFiles && s.removeFiles < s.installFiles).toBe(
      true,
    );
  });
});

describe('MSI run condition', () => {
  const scenarios: Array<[string, Record<string, string>, boolean]> = [
    ['first install', {}, true],
    ['major upgrade (old version found)', { WIX_UPGRADE_DETECTED: '{11111111-2222-3333-4444-555555555555}' }, true],
    ['uninstall', { Installed: '00:00:00', REMOVE: 'ALL' }, true],
    ['uninstall, lower-case ALL', { Installed: '00:00:00', REMOVE: 'all' }, true],
    ['repair', { Installed: '00:00:00', REINSTALL: 'ALL' }, true],
    ['maintenance without file changes', { Installed: '00:00:00' }, false],
    ['removing one feature only', { Installed: '00:00:00', REMOVE: 'Docs' }, false],
  ];
  for (const [name, props, expected] of scenarios) {
    it(`${expected ? 'runs' : 'does not run'} on ${name}`, () => {
      expect(evaluateMsiCondition(MSI_RUN_CONDITION, props)).toBe(expected);
      expect(MSI_BEST_EFFORT_STOP.condition).toBe(MSI_RUN_CONDITION);
      expect(MSI_AUTHORITATIVE_STOP.condition).toBe(MSI_RUN_CONDITION);
    });
  }
});

describe('argument quoting', () => {
  const installDirs = ['C:\\Program Files\\Sample App\\', 'D:\\AI Models\\My Ollama [x64] (beta)\\', 'C:\\Ollama\\'];
  for (const dir of installDirs) {
    it(`MSI: [INSTALLDIR] = ${dir} reaches the upgrader as one --install-dir that resolves to the dir`, () => {
      const d = resolveDescription(
        { ...base, upgraderArgs: ['--timeout', '60s', '--profile', 'C:\\Program Files\\x\\profile.json'] },
        'msi',
      );
      const temp = 'C:\\Users\\Jane Q\\AppData\\Local\\Temp\\';
      const argv = splitWindowsArgs(formatMsi(msiStopArguments(d), { INSTALLDIR: dir, TempFolder: temp }));
      const outcome = parseCommandLine(argv, false);
      expect(outcome.kind).toBe('run');
      if (outcome.kind !== 'run') return;
      expect(outcome.parsed.command).toBe('stop');
      expect(outcome.parsed.common.installDirs).toHaveLength(1);
      expect(win32.resolve(outcome.parsed.common.installDirs[0]!)).toBe(dir.slice(0, -1));
      expect(outcome.parsed.common.logFile).toBe(`${temp}llm-upgrade-msi.log`);
      expect(outcome.parsed.common.yes).toBe(true);
      expect(outcome.parsed.common.timeoutMs).toBe(60_000);
      expect(outcome.parsed.common.profile).toBe('C:\\Program Files\\x\\profile.json');
    });
  }
  it('MSI: the best-effort action gives up after 5 s whatever the integrator asked; the deferred one keeps it', () => {
    const d = resolveDescription({ ...base, upgraderArgs: ['--timeout', '60s'] }, 'msi');
    const parse = (bestEffort: boolean) => {
      const outcome = parseCommandLine(
        splitWindowsArgs(formatMsi(msiStopArguments(d, bestEffort), { INSTALLDIR: 'C:\\App\\', TempFolder: 'C:\\T\\' })),
        false,
      );
      if (outcome.kind !== 'run') throw new Error('not a command');
      return outcome.parsed.common.timeoutMs;
    };
    expect(parse(true)).toBe(5_000);
    expect(parse(false)).toBe(60_000);
  });
  for (const instdir of ['C:\\Program Files\\Sample App', 'C:\\Program Files\\Sample App\\', 'E:\\']) {
    it(`NSIS: $INSTDIR = ${instdir} reaches the upgrader as one --install-dir`, () => {
      const d = resolveDescription(base, 'nsis');
      const line = nsisStopArguments(d).replace('$INSTDIR', instdir).replace('$TEMP', 'C:\\Users\\Jane Q\\AppData\\Local\\Temp');
      const outcome = parseCommandLine(splitWindowsArgs(line), false);
      expect(outcome.kind).toBe('run');
      if (outcome.kind !== 'run') return;
      expect(outcome.parsed.common.installDirs).toHaveLength(1);
      expect(win32.resolve(outcome.parsed.common.installDirs[0]!)).toBe(win32.resolve(instdir));
      expect(outcome.parsed.common.logFile).toBe('C:\\Users\\Jane Q\\AppData\\Local\\Temp\\llm-upgrade-nsis.log');
      expect(outcome.parsed.common.quiet).toBe(true);
    });
  }
  it('quoteWindowsArg round-trips awkward arguments through the C runtime rules', () => {
    const samples = ['plain', 'with space', 'trailing\\', 'trail space\\', 'a"b', 'a\\"b', '\\\\server\\share\\dir\\', ''];
    for (const s of samples) expect(splitWindowsArgs(`x ${quoteWindowsArg(s)} y`)).toEqual(['x', s, 'y']);
  });
  it('refuses upgraderArgs that MSI formatting or NSIS would rewrite', () => {
    for (const bad of ['[INSTALLDIR]', '$INSTDIR', '%TEMP%', 'a"b', "it's", '']) {
      expect(() => resolveDescription({ ...base, upgraderArgs: [bad] }, 'msi')).toThrow(/upgraderArgs/);
    }
  });
  it('refuses a command line longer than CustomAction.Target holds', () => {
    const d = resolveDescription({ ...base, upgraderArgs: Array.from({ length: 40 }, () => '--quiet') }, 'msi');
    expect(() => msiStopArguments(d)).toThrow(/255/);
  });
});

describe('description', () => {
  it('normalises the upgrade code and fills defaults', () => {
    const d = resolveDescription(base, 'msi');
    expect(d.upgradeCode).toBe('{7E1C4A52-6F0B-4C59-9D3A-2B8F1E6A0C11}');
    expect(d.logFileName).toBe('llm-upgrade-msi.log');
    expect(resolveDescription(base, 'nsis').logFileName).toBe('llm-upgrade-nsis.log');
  });
  it('rejects versions MSI cannot order and bad GUIDs', () => {
    for (const v of ['1.2', '1.2.3-beta.1', '256.0.0', '1.0.65536'])
      expect(() => resolveDescription({ ...base, version: v }, 'msi')).toThrow(/version/);
    expect(() => resolveDescription({ ...base, upgradeCode: 'not-a-guid' }, 'msi')).toThrow(/upgradeCode/);
    expect(() => resolveDescription({ ...base, installDirName: 'a\\b' }, 'msi')).toThrow(/installDirName/);
  });
});

describe('MSI identifiers', () => {
  it('are valid, ≤ 72 characters and unique on deep, long and colliding paths', () => {
    const ids = new MsiIdAllocator(['INSTALLDIR']);
    const paths = [
      'ollama.exe',
      'lib/ollama/cuda_v12/' + 'very_long_directory_name/'.repeat(8) + 'libcublasLt64_12.dll',
      '1-starts-with-digit.dll',
      'Same-Name.dll',
      'same_name.dll',
      'SAME.NAME.dll',
      'ünïcödé/файл.txt',
      'INSTALLDIR',
    ];
    const got = paths.map((p) => ids.allocate('f_', p));
    for (const id of got) expect(isValidMsiIdentifier(id), id).toBe(true);
    expect(new Set(got.map((g) => g.toLowerCase())).size).toBe(got.length);
    expect(got[0]).toBe('f_ollama.exe');
    expect(got[1]!.length).toBeLessThanOrEqual(72);
    // Same input, same identifier: component GUIDs derive from it across builds.
    const again = new MsiIdAllocator(['INSTALLDIR']);
    expect(paths.map((p) => again.allocate('f_', p))).toEqual(got);
  });
});
