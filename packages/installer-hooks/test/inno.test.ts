import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_INNO_LOG_FILE_NAME,
  INNO_KEPT_UPGRADER,
  buildInno,
  findIscc,
  innoPreprocessorString,
  renderGenericInnoInclude,
  renderInnoIncludeFor,
  renderInnoScript,
  resolveDescription,
  windowsPathOf,
  type InstallerDescription,
} from '../src/index.js';
import { makeSmallPayload } from './helpers/payload.js';
import { makeTestCert, verifyPe } from './helpers/signing.js';
import { makeStandInUpgrader } from './helpers/stand-in.js';
import { missingTools } from './helpers/tools.js';
import { splitWindowsArgs } from './helpers/windows-argv.js';

const CHECKED_IN_ISS = new URL('../../../installers/inno/llm-upgrade.iss', import.meta.url);
const EXAMPLE_ISS = new URL('../../../installers/inno/example.iss', import.meta.url);

const description: InstallerDescription = {
  productName: 'Ollama {beta}',
  manufacturer: 'x',
  version: '1.0.0',
  upgradeCode: '44E83376-CE68-45EB-8FC1-393500EB558C',
  payloadDir: 'p',
  installDirName: 'Ollama',
  upgraderExe: '/build/llm-upgrade.exe',
  upgraderArgs: ['--timeout', '90s'],
};

/** A line of the include, exactly (the emulation below follows it). */
function expectLine(iss: string, line: string): void {
  expect(iss.split('\n')).toContain(line);
}

/** The command line the include builds, evaluated as Pascal Script would for these values. */
function stopParams(iss: string, scope: string, log: string): string {
  expectLine(iss, `  Params := 'stop ' + Scope + ' --log-file "' + LlmUpgradeLogPath() + '" --yes --quiet {#LlmUpgradeArgs}';`);
  return `stop ${scope} --log-file "${log}" --yes --quiet --timeout 90s`;
}

const addBackslash = (s: string) => (s.endsWith('\\') ? s : `${s}\\`);

/** LlmUpgradeInstallScope for an {app} value. */
function installScope(iss: string, app: string): string {
  expectLine(iss, `  Result := '--install-dir "' + AddBackslash(ExpandConstant('{app}')) + '."';`);
  return `--install-dir "${addBackslash(app)}."`;
}

/** LlmUpgradeUninstallScope for an {app} value and its entries. */
function uninstallScope(iss: string, app: string, entries: string[], uninstaller = 'unins000.exe'): string {
  expectLine(iss, `        if (Found.Name <> '.') and (Found.Name <> '..') and (Lowercase(ChangeFileExt(Found.Name, '')) <> Own) then`);
  expectLine(iss, `          Result := Result + ' --install-dir "' + Dir + Found.Name + '"';`);
  const own = uninstaller.replace(/\.[^.]*$/, '').toLowerCase();
  return entries
    .filter((e) => e.replace(/\.[^.]*$/, '').toLowerCase() !== own)
    .map((e) => `--install-dir "${addBackslash(app)}${e}"`)
    .join(' ');
}

describe('Inno Setup include', () => {
  it('installers/inno/llm-upgrade.iss is the generic rendering (regenerate it when the renderer changes)', () => {
    expect(readFileSync(CHECKED_IN_ISS, 'utf8')).toBe(renderGenericInnoInclude());
  });

  it('hooks PrepareToInstall and InitializeUninstall through event attributes only, so it composes with the integrator’s [Code]', () => {
    const iss = renderGenericInnoInclude();
    expect(iss).toMatch(/<event\('PrepareToInstall'\)>\nfunction LlmUpgradePrepareToInstall\(var NeedsRestart: Boolean\): String;/);
    expect(iss).toMatch(/<event\('InitializeUninstall'\)>\nfunction LlmUpgradeInitializeUninstall\(\): Boolean;/);
    // No main implementation of an event function: that is the integrator's to write.
    expect(iss).not.toMatch(/^function (PrepareToInstall|InitializeUninstall|InitializeSetup)\b/m);
    expect(iss).not.toMatch(/^procedure (CurStepChanged|CurUninstallStepChanged)\b/m);
    expect(iss).toContain('#error Define LlmUpgradeExe');
    expect(iss).toContain('#if Ver < EncodeVer(6, 3, 0)');
  });

  it('extracts the upgrader to {tmp} on install, and runs a {tmp} copy of the kept one on uninstall', () => {
    const iss = renderGenericInnoInclude();
    expect(iss).toContain('Source: "{#LlmUpgradeExe}"; Flags: dontcopy');
    expect(iss).toContain(`Source: "{#LlmUpgradeExe}"; DestDir: "{app}"; DestName: "${INNO_KEPT_UPGRADER}"; Flags: ignoreversion`);
    expect(iss).toContain("ExtractTemporaryFile('{#LlmUpgradeExeName}');");
    expect(iss).toContain("LlmUpgradeStop(ExpandConstant('{tmp}\\{#LlmUpgradeExeName}'), LlmUpgradeInstallScope(), Report)");
    expect(iss).toContain(`Kept := ExpandConstant('{app}\\${INNO_KEPT_UPGRADER}');`);
    expect(iss).toContain(`Exe := ExpandConstant('{tmp}\\${INNO_KEPT_UPGRADER}');`);
    expect(iss).toContain('CopyFile(Kept, Exe, False)');
    // A failed stop returns a message (Setup: exit 7) or False (the uninstall aborts).
    expect(iss).toMatch(/if Code <> 0 then Result := LlmUpgradeMessage\('updated', Code, Report\);/);
    expect(iss).toMatch(/Result := False;/);
  });

  it('quotes the install dir so spaces and a trailing backslash survive the C runtime’s parsing', () => {
    const iss = renderInnoIncludeFor(resolveDescription(description, 'inno'));
    for (const app of ['C:\\Users\\a b\\AppData\\Local\\Programs\\Ollama', 'C:\\', 'D:\\Program Files (x86)\\Ollama [x]\\']) {
      const argv = splitWindowsArgs(stopParams(iss, installScope(iss, app), 'C:\\Users\\a b\\Temp\\llm-upgrade-inno.log'));
      expect(argv[0]).toBe('stop');
      expect(argv[1]).toBe('--install-dir');
      expect(argv[2]).toBe(`${app.replace(/\\$/, '')}\\.`);
      expect(argv.slice(3)).toEqual(['--log-file', 'C:\\Users\\a b\\Temp\\llm-upgrade-inno.log', '--yes', '--quiet', '--timeout', '90s']);
    }
  });

  it('uninstalling, the scope is every entry of {app} but the running uninstaller’s own files (an ancestor of the upgrader)', () => {
    const iss = renderInnoIncludeFor(resolveDescription(description, 'inno'));
    const app = 'C:\\Users\\a b\\AppData\\Local\\Programs\\Ollama';
    const scope = uninstallScope(iss, app, [
      'ollama app.exe',
      'ollama.exe',
      'lib',
      'llm-upgrade.exe',
      'unins000.exe',
      'unins000.dat',
      'UNINS000.msg',
    ]);
    const argv = splitWindowsArgs(stopParams(iss, scope, 'C:\\t\\l.log'));
    const roots = argv.flatMap((a, i) => (argv[i - 1] === '--install-dir' ? [a] : []));
    expect(roots).toEqual(['ollama app.exe', 'ollama.exe', 'lib', 'llm-upgrade.exe'].map((e) => `${app}\\${e}`));
    expect(iss).toContain("Own := Lowercase(ChangeFileExt(ExtractFileName(ExpandConstant('{uninstallexe}')), ''));");
    expect(iss).toMatch(/Scope := LlmUpgradeUninstallScope\(\);\n {2}if Scope = '' then exit;/);
  });

  it('renders the description’s arguments and log file name as defaults; the log goes next to Setup’s /LOG', () => {
    const iss = renderInnoIncludeFor(
      resolveDescription({ ...description, logFileName: 'ollama-upgrade.log' }, 'inno'),
      'Z:\\build\\llm-upgrade.exe',
    );
    expect(iss).toContain('#define LlmUpgradeArgs "--timeout 90s"');
    expect(iss).toContain('#define LlmUpgradeExe "Z:\\build\\llm-upgrade.exe"');
    expect(iss).toContain("Result := AddBackslash(Result) + 'ollama-upgrade.log';");
    expect(iss).toContain("Result := ExpandConstant('{log}');");
    expect(resolveDescription(description, 'inno').logFileName).toBe(DEFAULT_INNO_LOG_FILE_NAME);
  });

  it('the script is per-user like Ollama’s and adds llm-upgrade with exactly two lines', () => {
    const d = resolveDescription(description, 'inno');
    const iss = renderInnoScript(d, { payloadDir: 'Z:\\p', upgraderExe: 'Z:\\u\\llm-upgrade-win32-x64.exe' });
    expect(iss).toContain('AppId={{44E83376-CE68-45EB-8FC1-393500EB558C}\n');
    expect(iss).toContain('AppName=Ollama {{beta}');
    expect(iss).toContain('PrivilegesRequired=lowest');
    expect(iss).toContain('DefaultDirName={localappdata}\\Programs\\Ollama');
    expect(iss).toContain('CloseApplications=no');
    expect(iss.trimEnd().split('\n').slice(-2)).toEqual([
      '#define LlmUpgradeExe "Z:\\u\\llm-upgrade-win32-x64.exe"',
      '#include "llm-upgrade.iss"',
    ]);
    expect(iss).not.toContain('SignTool');
    const signed = renderInnoScript(d, { payloadDir: 'Z:\\p', upgraderExe: 'Z:\\u.exe', signTool: 'llmupgradesign' });
    expect(signed).toContain('SignTool=llmupgradesign\nSignedUninstaller=yes\n');
  });

  it('the checked-in example adds the include with the two lines after its own [Files]', () => {
    const lines = readFileSync(EXAMPLE_ISS, 'utf8').split('\n');
    const files = lines.indexOf('[Files]');
    const define = lines.findIndex((l) => l.startsWith('#define LlmUpgradeExe '));
    expect(files).toBeGreaterThan(0);
    expect(define).toBeGreaterThan(files);
    expect(lines).toContain('#include "llm-upgrade.iss"');
    expect(lines).toContain('PrivilegesRequired=lowest');
  });

  it('refuses values the preprocessor cannot hold', () => {
    expect(() => innoPreprocessorString('a"b')).toThrow(/quote/);
    expect(() => renderInnoIncludeFor(resolveDescription({ ...description, upgraderArgs: ["it's"] }, 'inno'))).toThrow();
  });
});

const iscc = findIscc();
const missing =
  missingTools('wine', 'wineserver', 'osslsigncode', 'openssl') ||
  (iscc ? '' : 'the innosetup npm package is not installed') ||
  (existsSync('/usr/lib/wine/wine') || process.platform === 'win32' ? '' : 'wine32 (ISCC.exe is 32-bit)');
if (missing) console.warn(`[installer-hooks] Inno Setup build test skipped: ${missing}`);

describe.skipIf(missing !== '')('Inno Setup installer built by ISCC (under Wine)', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'llm-upgrade-inno-test-'));
  });
  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
  });

  it('builds a 32-bit Setup whose installer and uninstaller osslsigncode signed while ISCC ran', async () => {
    makeSmallPayload(join(work, 'payload'));
    const upgrader = makeStandInUpgrader(work).file;
    const cert = makeTestCert(work);
    const signLog = join(work, 'signed.txt');
    const out = join(work, 'out', 'sample-inno-setup.exe');
    const r = await buildInno(
      { ...description, productName: 'Sample', payloadDir: join(work, 'payload'), upgraderExe: upgrader },
      {
        outFile: out,
        sign: {
          command: '/bin/sh',
          args: [
            '-c',
            `osslsigncode sign -pkcs12 '${cert.pfx}' -pass '${cert.password}' -h sha256 -in "$0" -out "$0.signed" && mv "$0.signed" "$0" && echo "$1" >> '${signLog}'`,
            '{file}',
            '{kind}',
          ],
        },
      },
    );
    expect(r.bytes).toBeGreaterThan(100_000);
    const pe = readFileSync(out);
    const peOffset = pe.readUInt32LE(0x3c);
    expect(pe.readUInt16LE(peOffset + 4)).toBe(0x14c); // i386: Inno's Setup is 32-bit
    expect(verifyPe(cert, out).status).toBe(0);
    expect(readFileSync(signLog, 'utf8').trim().split('\n').sort()).toEqual(['installer', 'uninstaller']);
    expect(windowsPathOf('/a/b')).toBe(process.platform === 'win32' ? windowsPathOf('/a/b') : 'Z:\\a\\b');
  });
});
