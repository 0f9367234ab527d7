// Inno Setup, the installer Ollama ships: an Ollama-shaped per-user installer that adds
// llm-upgrade with the two lines (`#define LlmUpgradeExe …` + `#include "llm-upgrade.iss"`),
// built by ISCC from the innosetup package under Wine and run silently under Wine on an Xvfb
// display (Inno's wizard does not initialise under the null display driver). Setup and ISCC
// are 32-bit: Wine needs wine32.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildInno,
  compileInnoScript,
  findIscc,
  INNO_EXIT,
  INNO_KEPT_UPGRADER,
  DEFAULT_INNO_LOG_FILE_NAME,
  type InstallerDescription,
} from '@llm-upgrade/installer-hooks';
import {
  cacheDir,
  compileRunner,
  layoutForeignEngine,
  parseHookLog,
  startRunner,
  zPath,
  type HookLogLine,
  type RunnerPids,
} from './fixtures.js';
import { windowsSea } from './artifacts.js';
import { WinePrefix, wineGate } from './harness.js';

const gate = wineGate('inno.test.ts', ['osslsigncode', 'openssl', 'Xvfb'], () => {
  if (!findIscc()) return 'the innosetup npm package (ISCC.exe) is not installed (npm ci)';
  if (!existsSync('/usr/lib/wine/wine') && !existsSync('/usr/lib/i386-linux-gnu/wine/i386-windows/kernel32.dll')) {
    return 'ISCC.exe and Inno Setup.exe are 32-bit: install wine32 (dpkg --add-architecture i386 && apt-get install wine32:i386)';
  }
  return null;
});

const PRODUCT_DIR = 'Fake Ollama';
const SETUP_ARGS = ['/VERYSILENT', '/SUPPRESSMSGBOXES', '/NORESTART'];

interface Cert {
  pem: string;
  pfx: string;
  password: string;
}

/** A throwaway code-signing certificate, kept in the cache (an installer signed with it stays verifiable). */
function testCert(): Cert {
  const dir = cacheDir('inno-cert');
  const cert = { pem: join(dir, 'cert.pem'), pfx: join(dir, 'cert.pfx'), password: 'test-only' };
  if (existsSync(cert.pfx)) return cert;
  const key = join(dir, `key-${process.pid}.pem`);
  const run = (args: string[]) => {
    const r = spawnSync('openssl', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  };
  run([
    'req',
    '-x509',
    '-newkey',
    'rsa:3072',
    '-nodes',
    '-keyout',
    key,
    '-out',
    cert.pem,
    '-days',
    '3650',
    '-subj',
    '/CN=llm-upgrade inno test',
    '-addext',
    'extendedKeyUsage=codeSigning',
  ]);
  run(['pkcs12', '-export', '-inkey', key, '-in', cert.pem, '-out', `${cert.pfx}.partial`, '-passout', `pass:${cert.password}`]);
  rmSync(key, { force: true });
  copyFileSync(`${cert.pfx}.partial`, cert.pfx);
  rmSync(`${cert.pfx}.partial`, { force: true });
  return cert;
}

function osslSign(cert: Cert, file: string): void {
  const r = spawnSync(
    'osslsigncode',
    ['sign', '-pkcs12', cert.pfx, '-pass', cert.password, '-n', 'llm-upgrade test', '-h', 'sha256', '-in', file, '-out', `${file}.signed`],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`osslsigncode sign ${file}: ${r.stdout}${r.stderr}`);
  rmSync(file);
  copyFileSync(`${file}.signed`, file);
  rmSync(`${file}.signed`);
}

function osslVerify(cert: Cert, file: string): { status: number | null; output: string } {
  const r = spawnSync('osslsigncode', ['verify', '-CAfile', cert.pem, '-in', file], { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** The PE files of an Ollama-shaped payload. */
const PAYLOAD_PE = ['ollama app.exe', 'ollama.exe', 'lib\\ollama\\llama-server.exe', 'lib\\ollama\\ggml-base.dll'] as const;

/**
 * `ollama app.exe` (the tray), `ollama.exe`, `lib\ollama\llama-server.exe` and
 * `lib\ollama\ggml-base.dll` (a PE the engines map), all of `version`.
 */
function makeOllamaPayload(dir: string, version: string): string {
  const runner = compileRunner(version);
  mkdirSync(join(dir, 'lib', 'ollama'), { recursive: true });
  for (const f of PAYLOAD_PE) copyFileSync(runner, join(dir, ...f.split('\\')));
  writeFileSync(join(dir, 'version.txt'), `${version}\n`);
  return dir;
}

describe.runIf(gate.run)('Inno Setup per-user installer with the two-line include, under Wine', () => {
  let wine: WinePrefix | undefined;
  let work: string | undefined;
  let cert: Cert;
  let setupV1: string;
  let setupV2: string;
  let setupV2File: string;
  let setupControl: string;
  let root: string;
  let controlRoot: string;
  let logSequence = 0;
  const w = (): WinePrefix => {
    if (!wine) throw new Error('Wine prefix was not created');
    return wine;
  };
  const file = (rel: string) => `${root}\\${rel}`;
  const dll = () => file('lib\\ollama\\ggml-base.dll');
  const version = async (): Promise<string> => (await w().run(file('ollama.exe'), ['--version'], { name: 'version' })).stdout.trim();

  /** Runs a Setup (or uninstaller) with /LOG; the hook's JSON lines land next to that log. */
  async function runSetup(program: string, name: string, extra: string[] = []) {
    const logDir = `C:\\logs\\${name}-${++logSequence}`;
    mkdirSync(w().toUnix(logDir), { recursive: true });
    const r = await w().run(program, [...SETUP_ARGS, `/LOG=${logDir}\\setup.txt`, ...extra], { name, timeoutMs: 300_000 });
    const innoLogPath = w().toUnix(`${logDir}\\setup.txt`);
    const hookLogPath = w().toUnix(`${logDir}\\${DEFAULT_INNO_LOG_FILE_NAME}`);
    w().saveLog(innoLogPath, `${name}-inno.txt`);
    w().saveLog(hookLogPath, `${name}-hook.log`);
    return {
      ...r,
      logDir,
      innoLog: () => (existsSync(innoLogPath) ? readFileSync(innoLogPath, 'utf8') : ''),
      hook: (): HookLogLine[] => (existsSync(hookLogPath) ? parseHookLog(readFileSync(hookLogPath, 'utf8')) : []),
    };
  }

  const stoppedPids = (lines: HookLogLine[]) =>
    new Set(
      lines
        .filter((l) => l.type === 'result')
        .flatMap((l) => l.result?.stopped ?? [])
        .map((p) => p.pid),
    );

  async function startServer(name: string, extra: string[] = []): Promise<RunnerPids> {
    return startRunner(w(), file('ollama.exe'), ['serve', '--model', dll(), ...extra], name);
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'llm-upgrade-wine-inno-'));
    cert = testCert();
    const sea = (await windowsSea()).exe;
    wine = await WinePrefix.create({ xvfb: true });
    const localAppData = (await w().mustRun('wine', ['cmd', '/c', 'echo', '%LOCALAPPDATA%'], { name: 'localappdata' })).stdout.trim();
    root = `${localAppData}\\Programs\\${PRODUCT_DIR}`;
    controlRoot = `${localAppData}\\Programs\\Control Ollama`;
    layoutForeignEngine(w(), compileRunner('9.9.9'));

    const p1 = makeOllamaPayload(join(work, 'payload-1'), '1.0.0');
    const p2 = makeOllamaPayload(join(work, 'payload-2'), '2.0.0');
    // What the release does (issue 12 item 3): the app's own PE files are signed before packaging.
    for (const f of PAYLOAD_PE) osslSign(cert, join(p2, ...f.split('\\')));
    const description = (v: string, payloadDir: string): InstallerDescription => ({
      productName: 'Fake Ollama',
      manufacturer: 'llm-upgrade tests',
      version: v,
      upgradeCode: '{44E83376-CE68-45EB-8FC1-393500EB558C}',
      payloadDir,
      installDirName: PRODUCT_DIR,
      upgraderExe: sea,
      upgraderArgs: ['--grace', '2s', '--timeout', '10s'],
    });
    const sign = {
      command: 'osslsigncode',
      args: [
        'sign',
        '-pkcs12',
        cert.pfx,
        '-pass',
        cert.password,
        '-n',
        'llm-upgrade test',
        '-h',
        'sha256',
        '-in',
        '{file}',
        '-out',
        '{file}.signed',
      ],
    };
    // osslsigncode writes FILE.signed; a shell moves it over FILE (the sign tool signs in place).
    const signInPlace = {
      command: '/bin/sh',
      args: [
        '-c',
        `${sign.command} ${sign.args.map((a) => (a === '{file}' ? '"$0"' : a === '{file}.signed' ? '"$0.signed"' : `'${a}'`)).join(' ')} && mv "$0.signed" "$0"`,
        '{file}',
      ],
    };

    // The control: Ollama's own approach (app/ollama.iss, v0.30.4): [Files] BeforeInstall
    // TaskKill by image name. Wine's taskkill has no /T, so `/f /im` (what /T adds is the tree).
    const controlPayload = makeOllamaPayload(join(work, 'payload-control'), '1.0.0');
    const controlIss = join(work, 'control.iss');
    writeFileSync(
      controlIss,
      `[Setup]
AppId={{0B1C7E9A-55D2-4C43-8F0E-7A2D9C3B4E61}
AppName=Control Ollama
AppVersion=1.0.0
DefaultDirName={localappdata}\\Programs\\Control Ollama
DisableDirPage=yes
PrivilegesRequired=lowest
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
CloseApplications=no
Compression=zip/1
[Files]
Source: "${zPath(controlPayload)}\\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs; BeforeInstall: TaskKill('llama-server.exe')
[Code]
procedure TaskKill(FileName: String);
var
  ResultCode: Integer;
begin
  Exec('taskkill.exe', '/f /im ' + '"' + FileName + '"', '', SW_HIDE, ewWaitUntilTerminated, ResultCode);
end;
`,
    );
    const env = w().env;
    const started = Date.now();
    const [s1, s2] = await Promise.all([
      buildInno(description('1.0.0', p1), { outFile: join(work, 'out', 'fake-ollama-1.0.0-setup.exe'), wineEnv: env }),
      buildInno(description('2.0.0', p2), { outFile: join(work, 'out', 'fake-ollama-2.0.0-setup.exe'), wineEnv: env, sign: signInPlace }),
      compileInnoScript(controlIss, join(work, 'out', 'control-setup.exe'), { wineEnv: env }),
    ]);
    process.stderr.write(`[wine] inno: three ISCC builds in ${Date.now() - started} ms\n`);
    setupV1 = zPath(s1.outFile);
    setupV2 = zPath(s2.outFile);
    setupV2File = s2.outFile;
    setupControl = zPath(join(work, 'out', 'control-setup.exe'));
  });

  afterAll(async () => {
    await wine?.dispose();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('installs version 1 per user, keeping a copy of the upgrader for the uninstaller', async () => {
    const r = await runSetup(setupV1, 'setup-v1');
    expect(r.code, r.innoLog().slice(-3000)).toBe(0);
    expect(await version()).toBe('ollama version is 1.0.0');
    expect(existsSync(w().toUnix(file(INNO_KEPT_UPGRADER)))).toBe(true);
    expect(existsSync(w().toUnix(file('unins000.exe')))).toBe(true);
    // A first install: the directory did not exist, so there was nothing to stop.
    expect(r.innoLog()).toMatch(/llm-upgrade: .* does not exist: nothing to stop/);
  });

  it("v2 /VERYSILENT over the running server, engines and an orphan: exit 0, files v2, the other vendor's engine alive", async () => {
    const orphan = await startServer('orphan', ['--orphan']);
    await w().waitFor(
      'the orphaning frontend to exit',
      () =>
        !w()
          .processesUnder(root)
          .some((p) => p.commandLine.includes('--orphan')),
    );
    const tree = await startServer('tree', ['--engines', '2', '--ignore-close']);
    const tray = await startRunner(w(), file('ollama app.exe'), ['--model', file('version.txt')], 'tray');
    if (!existsSync(w().toUnix('C:\\Other\\models\\other.gguf'))) w().writeFile('C:\\Other\\models\\other.gguf', Buffer.alloc(8192, 7));
    const foreign = await startRunner(w(), 'C:\\Other\\lib\\llama-server.exe', ['--model', 'C:\\Other\\models\\other.gguf'], 'foreign');
    expect(w().processesUnder(root)).toHaveLength(5);

    const r = await runSetup(setupV2, 'setup-v2');
    expect(r.code, r.innoLog().slice(-3000)).toBe(0);
    const stopped = stoppedPids(r.hook());
    for (const pid of [tree.frontend!, ...tree.engines, ...orphan.engines, ...tray.engines])
      expect(stopped.has(pid), `pid ${pid} in the hook log`).toBe(true);
    expect(stopped.has(foreign.engines[0]!)).toBe(false);
    const orphanEntry = r
      .hook()
      .flatMap((l) => l.result?.stopped ?? [])
      .find((p) => p.pid === orphan.engines[0]);
    expect(orphanEntry?.orphan).toBe(true);

    expect(w().processesUnder(root)).toEqual([]);
    expect(w().processesUnder('C:\\Other')).toHaveLength(1);
    expect(await version()).toBe('ollama version is 2.0.0');
    expect(readFileSync(w().toUnix(file('version.txt')), 'utf8')).toBe('2.0.0\n');
  });

  it('Setup, its installed uninstaller and every PE file of the payload are signed', () => {
    for (const f of [setupV2File, w().toUnix(file('unins000.exe')), ...PAYLOAD_PE.map((p) => w().toUnix(file(p)))]) {
      const v = osslVerify(cert, f);
      expect(v.status, `${f}: ${v.output}`).toBe(0);
    }
  });

  it("another vendor's program mapping a file of the install: Setup exits 7, nothing replaced, that program alive", async () => {
    const holder = await startRunner(w(), 'C:\\Other\\lib\\llama-server.exe', ['--model', dll()], 'foreign-holder');
    const r = await runSetup(setupV1, 'setup-held');
    expect(r.code).toBe(INNO_EXIT.prepareToInstallFailed);
    expect(
      r
        .hook()
        .filter((l) => l.type === 'result')
        .map((l) => l.exitCode),
    ).toEqual([3]);
    // The message Setup logs names what holds the file.
    expect(r.innoLog()).toMatch(/could not be stopped/);
    expect(r.innoLog()).toMatch(/ggml-base\.dll/i);
    expect(await version()).toBe('ollama version is 2.0.0');
    expect(readFileSync(w().toUnix(file('version.txt')), 'utf8')).toBe('2.0.0\n');
    expect(
      w()
        .processes()
        .some((p) => p.pid > 0 && p.commandLine.includes('foreign-holder')),
    ).toBe(true);
    const end = await w().run('taskkill', ['/f', '/pid', String(holder.engines[0])], { name: 'taskkill-holder' });
    expect(end.code, end.stdout + end.stderr).toBe(0);
    await w().waitFor(
      'the foreign holder to exit',
      () =>
        !w()
          .processes()
          .some((p) => p.commandLine.includes('foreign-holder')),
    );
  });

  it('the in-app updater: `ollama app.exe` starts Setup and exits; Setup stops the server and installs', async () => {
    const tree = await startServer('tree-inapp', ['--ignore-close']);
    const logDir = `C:\\logs\\inapp`;
    mkdirSync(w().toUnix(logDir), { recursive: true });
    // No quotes (the path has no space): Wine's start-up mangles a quoted argument to `wine`.
    if (/\s/.test(setupV1)) throw new Error(`${setupV1} has a space`);
    const commandLine = `${setupV1} ${SETUP_ARGS.join(' ')} /LOG=${logDir}\\setup.txt`;
    const launcher = await w().run(file('ollama app.exe'), ['launch', commandLine], { name: 'launch-setup' });
    expect(launcher.code, launcher.stdout + launcher.stderr).toBe(0);
    const innoLog = w().toUnix(`${logDir}\\setup.txt`);
    await w().waitFor(
      'Setup started by the app to finish',
      () => existsSync(innoLog) && /Log closed\./.test(readFileSync(innoLog, 'utf8')),
      240_000,
    );
    w().saveLog(innoLog, 'inapp-inno.txt');
    const hook = parseHookLog(readFileSync(w().toUnix(`${logDir}\\${DEFAULT_INNO_LOG_FILE_NAME}`), 'utf8'));
    const stopped = stoppedPids(hook);
    for (const pid of [tree.frontend!, ...tree.engines]) expect(stopped.has(pid), `pid ${pid} in the hook log`).toBe(true);
    expect(readFileSync(innoLog, 'utf8')).toMatch(/Installation process succeeded|Setup finished|Need to restart Windows\? No/);
    expect(w().processesUnder(root)).toEqual([]);
    expect(await version()).toBe('ollama version is 1.0.0');
  });

  it("control: Ollama's own TaskKill by image name ends the other vendor's llama-server.exe", async () => {
    const foreignBefore = w().processesUnder('C:\\Other');
    expect(foreignBefore).toHaveLength(1);
    const r = await runSetup(setupControl, 'control');
    expect(r.code, r.innoLog().slice(-3000)).toBe(0);
    await w().waitFor("taskkill /im to end the other vendor's engine", () => w().processesUnder('C:\\Other').length === 0, 30_000);
    expect(existsSync(w().toUnix(`${controlRoot}\\ollama.exe`))).toBe(true);
    // Put the other vendor's engine back for the remaining test.
    await startRunner(w(), 'C:\\Other\\lib\\llama-server.exe', ['--model', 'C:\\Other\\models\\other.gguf'], 'foreign-2');
  });

  it("uninstall while another vendor's program maps a file of the install: aborted before any file goes (exit 1), that program alive", async () => {
    const holder = await startRunner(w(), 'C:\\Other\\lib\\llama-server.exe', ['--model', dll()], 'foreign-holder-u');
    const r = await runSetup(file('unins000.exe'), 'uninstall-held');
    expect(r.code).toBe(1);
    expect(r.innoLog()).toMatch(/InitializeUninstall returned False/);
    expect(
      r
        .hook()
        .filter((l) => l.type === 'result')
        .map((l) => l.exitCode),
    ).toEqual([3]);
    for (const f of PAYLOAD_PE) expect(existsSync(w().toUnix(file(f))), f).toBe(true);
    expect(
      w()
        .processes()
        .some((p) => p.commandLine.includes('foreign-holder-u')),
    ).toBe(true);
    await w().mustRun('wine', ['taskkill', '/f', '/pid', String(holder.engines[0])], { name: 'taskkill-holder-u' });
    await w().waitFor(
      'the foreign holder to exit',
      () =>
        !w()
          .processes()
          .some((p) => p.commandLine.includes('foreign-holder-u')),
    );
  });

  it("uninstall with a running server: exit 0, everything stopped, the install dir gone, the other vendor's engine alive", async () => {
    const orphan = await startServer('orphan-u', ['--orphan']);
    await w().waitFor(
      'the orphaning frontend to exit',
      () =>
        !w()
          .processesUnder(root)
          .some((p) => p.commandLine.includes('--orphan')),
    );
    const tree = await startServer('tree-u', ['--ignore-close']);
    const r = await runSetup(file('unins000.exe'), 'uninstall');
    expect(r.code, r.innoLog().slice(-3000)).toBe(0);
    // The uninstaller runs a copy of itself from %TEMP%; wait for it to remove the dir.
    await w().waitFor(
      'the uninstaller to remove the install dir',
      () => !existsSync(w().toUnix(root)) || readdirSync(w().toUnix(root)).length === 0,
      120_000,
    );
    await w()
      .waitFor('the uninstaller to finish', () => /Log closed\./.test(r.innoLog()), 60_000)
      .catch(() => undefined);
    w().saveLog(w().toUnix(`${r.logDir}\\setup.txt`), 'uninstall-inno-final.txt');
    const stopped = stoppedPids(r.hook());
    for (const pid of [tree.frontend!, ...tree.engines, ...orphan.engines])
      expect(stopped.has(pid), `pid ${pid} in the hook log`).toBe(true);
    expect(w().processesUnder(root)).toEqual([]);
    expect(w().processesUnder('C:\\Other')).toHaveLength(1);
  });
});
