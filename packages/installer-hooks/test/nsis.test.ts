import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EXAMPLE_NSI,
  buildNsis,
  nsisStopArguments,
  renderGenericNsisInclude,
  renderNsisInclude,
  resolveDescription,
  type InstallerDescription,
} from '../src/index.js';
import { makeSmallPayload } from './helpers/payload.js';
import { makeTestCert, signPe, verifyPe } from './helpers/signing.js';
import { makeStandInUpgrader, peMachine } from './helpers/stand-in.js';
import { missingTools } from './helpers/tools.js';

const CHECKED_IN_NSH = new URL('../../../installers/nsis/llm-upgrade.nsh', import.meta.url);
const missing = missingTools('makensis', 'osslsigncode', 'openssl');
if (missing) console.warn(`[installer-hooks] NSIS build tests skipped: ${missing}`);

describe('NSIS include', () => {
  it('installers/nsis/llm-upgrade.nsh is the generic rendering (regenerate it when the renderer changes)', () => {
    expect(readFileSync(CHECKED_IN_NSH, 'utf8')).toBe(renderGenericNsisInclude());
  });

  it('the example stops the app before the first File and before the uninstaller deletes anything', () => {
    const lines = readFileSync(EXAMPLE_NSI, 'utf8')
      .split('\n')
      .map((l) => l.trim());
    const install = lines.indexOf('Section "Install"');
    const uninstall = lines.indexOf('Section "Uninstall"');
    const firstFile = lines.findIndex((l, i) => i > install && /^File\b/.test(l));
    const stopInstall = lines.findIndex((l, i) => i > install && l === '!insertmacro LLM_UPGRADE_BEFORE_INSTALL');
    const firstDelete = lines.findIndex((l, i) => i > uninstall && /^(RMDir|Delete)\b/.test(l));
    const stopUninstall = lines.findIndex((l, i) => i > uninstall && l === '!insertmacro LLM_UPGRADE_BEFORE_UNINSTALL');
    expect(install).toBeGreaterThanOrEqual(0);
    expect(stopInstall).toBeGreaterThan(install);
    expect(stopInstall).toBeLessThan(firstFile);
    expect(stopUninstall).toBeGreaterThan(uninstall);
    expect(stopUninstall).toBeLessThan(firstDelete);
    expect(lines).toContain('Target amd64-unicode');
  });

  it('renders the description’s command, log path and product into the include', () => {
    const d = resolveDescription(
      {
        productName: 'Ollama $pecial',
        manufacturer: 'x',
        version: '1.0.0',
        upgradeCode: '{5B0D8C2A-1E47-4F6A-8B39-C2D1E0F9A877}',
        payloadDir: 'p',
        installDirName: 'Ollama',
        upgraderExe: '/build/llm-upgrade.exe',
        upgraderArgs: ['--timeout', '90s'],
        logFileName: 'ollama-upgrade.log',
      },
      'nsis',
    );
    const nsh = renderNsisInclude(d);
    expect(nsh).toContain(`!define LLM_UPGRADE_COMMAND '"$PLUGINSDIR\\llm-upgrade.exe" ${nsisStopArguments(d)}'`);
    expect(nsisStopArguments(d)).toContain('--timeout 90s');
    expect(nsh).toContain('!define LLM_UPGRADE_LOG "$TEMP\\ollama-upgrade.log"');
    // `$` in a product name is escaped, or NSIS would read it as a variable.
    expect(nsh).toContain('!define LLM_UPGRADE_PRODUCT "Ollama $$pecial"');
    expect(nsh).toContain('SetErrorLevel $LlmUpgradeExit');
    expect(nsh).toMatch(/\$\{If\} \$\{Silent\}[\s\S]*Abort/);
  });
});

describe.skipIf(missing !== '')('NSIS example built by makensis', () => {
  let work: string;
  let setup: string;
  let description: InstallerDescription;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'llm-upgrade-nsis-test-'));
    makeSmallPayload(join(work, 'payload'));
    description = {
      productName: 'Sample LLM App',
      manufacturer: 'llm-upgrade tests',
      version: '2.5.0',
      upgradeCode: '0F6C1B7E-3D2A-4E8B-9C51-7A2D3E4F5061',
      payloadDir: join(work, 'payload'),
      installDirName: 'Sample LLM App',
      upgraderExe: makeStandInUpgrader(work).file,
      upgraderArgs: ['--timeout', '60s'],
    };
    setup = join(work, 'out', 'setup.exe');
    await buildNsis(description, { outFile: setup, workDir: join(work, 'build') });
  });
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('produces a 64-bit PE installer', () => {
    expect(peMachine(readFileSync(setup))).toBe(0x8664);
  });

  it('used the include rendered from the description', () => {
    const nsh = readFileSync(join(work, 'build', 'llm-upgrade.nsh'), 'utf8');
    expect(nsh).toBe(renderNsisInclude(resolveDescription({ ...description, upgraderExe: description.upgraderExe }, 'nsis')));
  });

  it('osslsigncode reads it: signs it with a throwaway certificate and verifies the signature', () => {
    const cert = makeTestCert(work);
    const signed = join(work, 'out', 'setup-signed.exe');
    signPe(cert, setup, signed);
    const v = verifyPe(cert, signed);
    expect(v.output).toMatch(/Signature verification: ok/);
    expect(v.status).toBe(0);
    // And an unsigned one is reported as such, so the check above is not vacuous.
    expect(verifyPe(cert, setup).status).not.toBe(0);
  });

  it('fails the build, naming the problem, when the payload is missing', async () => {
    await expect(
      buildNsis({ ...description, payloadDir: join(work, 'no-such-dir') }, { outFile: join(work, 'out', 'bad.exe') }),
    ).rejects.toThrow(/makensis/);
  });
});
