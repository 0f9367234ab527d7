// Wine's msiexec installing, upgrading and removing an MSI built by @llm-upgrade/installer-hooks
// (wixl + msibuild, the win32 SEA in the Binary table), while the fake runner runs from the
// install dir with an orphaned engine. Without the stop, the upgrade fails on held files.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildMsi,
  DEFAULT_MSI_LOG_FILE_NAME,
  MSI_AUTHORITATIVE_STOP,
  MSI_BEST_EFFORT_STOP,
  type InstallerDescription,
} from '@llm-upgrade/installer-hooks';
import { cachedInstaller, windowsSea } from './artifacts.js';
import {
  compileRunner,
  findTempFiles,
  installedLayout,
  layoutForeignEngine,
  makePayload,
  readHookLog,
  startRunner,
  startScenario,
  type HookLogLine,
  zPath,
} from './fixtures.js';
import { WinePrefix, wineGate } from './harness.js';

const gate = wineGate('msi.test.ts', ['osslsigncode', 'wixl', 'msibuild', 'msiinfo']);

const UPGRADE_CODE = '{6B0E7C2A-4D1F-4C55-9E21-3A7C1B0F5D11}';
const INSTALL_DIR = 'C:\\Program Files\\Fake Ollama';

/** msiexec's verbose log: UTF-16LE on Windows, possibly 8-bit under Wine; read either. */
function readMsiLog(path: string): string {
  const bytes = readFileSync(path);
  const nulls = bytes.subarray(0, 400).filter((b) => b === 0).length;
  return bytes.toString(nulls > 50 ? 'utf16le' : 'utf8');
}

describe.runIf(gate.run)('MSI install, upgrade and uninstall under Wine msiexec', () => {
  let wine: WinePrefix | undefined;
  let work: string | undefined;
  let v1Msi: string;
  let v2Msi: string;
  let v2Model: Buffer;
  let v3Msi: string;
  let v1NoStop: string;
  let v2NoStop: string;
  const app = installedLayout(INSTALL_DIR);

  const w = (): WinePrefix => {
    if (!wine) throw new Error('Wine prefix was not created');
    return wine;
  };

  const hookLog = (): HookLogLine[] => readHookLog(w(), DEFAULT_MSI_LOG_FILE_NAME);

  function msiexec(args: string[], name: string) {
    return w().exec('wine', ['msiexec', ...args], { name, timeoutMs: 300_000 });
  }

  async function runnerVersion(): Promise<string> {
    const r = await w().run(app.frontend, ['--version'], { name: 'version' });
    return r.stdout.trim();
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'llm-upgrade-wine-msi-'));
    const sea = (await windowsSea()).exe;
    const description = (version: string, payloadDir: string): InstallerDescription => ({
      productName: 'Fake Ollama',
      manufacturer: 'llm-upgrade tests',
      version,
      upgradeCode: UPGRADE_CODE,
      payloadDir,
      installDirName: 'Fake Ollama',
      upgraderExe: sea,
      upgraderArgs: ['--grace', '2s', '--timeout', '10s'],
    });
    const p1 = makePayload(join(work, 'payload-1'), '1.0.0');
    const p2 = makePayload(join(work, 'payload-2'), '2.0.0');
    const p3 = makePayload(join(work, 'payload-3'), '3.0.0');
    v2Model = p2.modelBytes;
    const build = (version: string, payloadDir: string) => {
      const d = description(version, payloadDir);
      return cachedInstaller('msi', { upgraderExe: sea, payloadDir, description: d }, (outFile) => buildMsi(d, { outFile }));
    };
    const [built1, built2, built3] = await Promise.all([build('1.0.0', p1.dir), build('2.0.0', p2.dir), build('3.0.0', p3.dir)]);
    /** A copy of a built MSI without the given custom actions in InstallExecuteSequence. */
    const variant = (msi: string, name: string, remove: string[]): string => {
      const copy = join(work!, name);
      copyFileSync(msi, copy);
      for (const action of remove) {
        const r = spawnSync('msibuild', [copy, '-q', `DELETE FROM InstallExecuteSequence WHERE Action = '${action}'`], {
          encoding: 'utf8',
        });
        if (r.status !== 0) throw new Error(`msibuild DELETE failed: ${r.stderr}`);
      }
      const sequence = spawnSync('msiinfo', ['export', copy, 'InstallExecuteSequence'], { encoding: 'utf8' }).stdout;
      for (const action of remove) if (sequence.includes(action)) throw new Error(`${name} still runs ${action}:\n${sequence}`);
      return zPath(copy);
    };
    v1Msi = variant(built1, 'fake-ollama-1.0.0.msi', []);
    // v2 keeps only the authoritative deferred stop, so whatever its log says was stopped, the
    // deferred no-impersonation action stopped (the best-effort one is proven on v1).
    v2Msi = variant(built2, 'fake-ollama-2.0.0.msi', [MSI_BEST_EFFORT_STOP.action]);
    // A product of its own for the failure case: after the control's failed upgrade, Wine keeps
    // v2's product code registered with the hook-less package cached.
    v3Msi = variant(built3, 'fake-ollama-3.0.0.msi', [MSI_BEST_EFFORT_STOP.action]);
    // The control: v1 and v2 with neither stop action, as installers ship today. (Both must
    // lack it: v1's uninstall action alone would stop the runner during RemoveExistingProducts.)
    const neither = [MSI_BEST_EFFORT_STOP.action, MSI_AUTHORITATIVE_STOP.action];
    v1NoStop = variant(built1, 'fake-ollama-1.0.0-nostop.msi', neither);
    v2NoStop = variant(built2, 'fake-ollama-2.0.0-nostop.msi', neither);
    wine = await WinePrefix.create();
    mkdirSync(w().toUnix('C:\\logs'), { recursive: true }); // msiexec /l does not create it
    layoutForeignEngine(w(), compileRunner('1.0.0'));
  });

  afterAll(async () => {
    if (wine) for (const [i, f] of findTempFiles(wine, DEFAULT_MSI_LOG_FILE_NAME).entries()) wine.saveLog(f, `hook-${i}.log`);
    await wine?.dispose();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('msiexec /i v1.msi /qn installs version 1 (the stop finds nothing to do)', async () => {
    const r = await msiexec(['/i', v1Msi, '/qn', '/l*v', 'C:\\logs\\install-v1.log'], 'msiexec-install-v1');
    w().saveLog('C:\\logs\\install-v1.log', 'msi-install-v1.log');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await runnerVersion()).toBe('ollama version is 1.0.0');
    // Both custom actions ran the upgrader on a first install and found nothing to stop.
    const msiLog = readMsiLog(w().toUnix('C:\\logs\\install-v1.log'));
    expect(msiLog).toMatch(new RegExp(`Action ended [^:]+:[^:]+:[^:]+: ${MSI_BEST_EFFORT_STOP.action}\\. Return value 1`));
    expect(msiLog).toMatch(new RegExp(`Action ended [^:]+:[^:]+:[^:]+: ${MSI_AUTHORITATIVE_STOP.action}\\. Return value 1`));
    const results = hookLog().filter((l) => l.type === 'result');
    expect(results).toHaveLength(2);
    for (const l of results) expect(l.result?.stopped ?? []).toEqual([]);
  });

  it('msiexec /i v2.msi /qn upgrades while the runner and an orphaned engine hold files: all stopped, files are v2', async () => {
    const scenario = await startScenario(w(), app, 'C:\\Other\\lib\\llama-server.exe');
    const linesBefore = hookLog().length;

    const r = await msiexec(['/i', v2Msi, '/qn', '/l*v', 'C:\\logs\\upgrade-v2.log'], 'msiexec-upgrade-v2');
    w().saveLog('C:\\logs\\upgrade-v2.log', 'msi-upgrade-v2.log');
    const msiLog = readMsiLog(w().toUnix('C:\\logs\\upgrade-v2.log'));
    expect(r.code, `msiexec exit; MSI log tail:\n${msiLog.slice(-4000)}`).toBe(0);

    // The deferred, no-impersonation action ran (the verbose log names it) ...
    expect(msiLog).toMatch(new RegExp(`Action ended [^:]+:[^:]+:[^:]+: ${MSI_AUTHORITATIVE_STOP.action}\\. Return value 1`));
    expect(msiLog).not.toContain(MSI_BEST_EFFORT_STOP.action);
    // ... and its own log says what it stopped, the orphan included.
    const lines = hookLog().slice(linesBefore);
    const stopped = lines.filter((l) => l.type === 'result').flatMap((l) => l.result?.stopped ?? []);
    const stoppedPids = new Set(stopped.map((p) => p.pid));
    for (const pid of [scenario.tree.frontend!, ...scenario.tree.engines, ...scenario.orphan.engines]) {
      expect(stoppedPids.has(pid), `pid ${pid} in the upgrader's log`).toBe(true);
    }
    expect(stopped.find((p) => p.pid === scenario.orphan.engines[0])?.orphan).toBe(true);
    expect(stoppedPids.has(scenario.foreign.engines[0]!)).toBe(false);

    expect(w().processesUnder(INSTALL_DIR)).toEqual([]);
    expect(w().processesUnder('C:\\Other')).toHaveLength(1);
    expect(await runnerVersion()).toBe('ollama version is 2.0.0');
    expect(readFileSync(w().toUnix(app.model)).equals(v2Model)).toBe(true);
  });

  it('msiexec /x removes the product after stopping the running version, leaving nothing behind', async () => {
    const orphan = await startRunner(w(), app.frontend, ['serve', '--orphan'], 'orphan-v2');
    const tree = await startRunner(w(), app.frontend, ['serve', '--ignore-close'], 'tree-v2');
    expect(w().processesUnder(INSTALL_DIR)).toHaveLength(3);
    const linesBefore = hookLog().length;

    const r = await msiexec(['/x', v2Msi, '/qn', '/l*v', 'C:\\logs\\uninstall.log'], 'msiexec-uninstall');
    w().saveLog('C:\\logs\\uninstall.log', 'msi-uninstall.log');
    expect(r.code, readMsiLog(w().toUnix('C:\\logs\\uninstall.log')).slice(-4000)).toBe(0);

    const stopped = hookLog()
      .slice(linesBefore)
      .filter((l) => l.type === 'result')
      .flatMap((l) => l.result?.stopped ?? []);
    const stoppedPids = new Set(stopped.map((p) => p.pid));
    for (const pid of [tree.frontend!, ...tree.engines, ...orphan.engines])
      expect(stoppedPids.has(pid), `pid ${pid} in the log`).toBe(true);

    expect(w().processesUnder(INSTALL_DIR)).toEqual([]);
    expect(w().processesUnder('C:\\Other')).toHaveLength(1);
    const root = w().toUnix(INSTALL_DIR);
    const left = existsSync(root) ? readdirSync(root, { recursive: true }) : [];
    expect(left).toEqual([]);
  });

  it('control: the same upgrade without the stop actions fails on the held files', async () => {
    const install = await msiexec(['/i', v1NoStop, '/qn', '/l*v', 'C:\\logs\\control-v1.log'], 'msiexec-control-v1');
    expect(install.code).toBe(0);
    await startScenario(w(), app, 'C:\\Other\\lib\\llama-server.exe');
    const r = await msiexec(['/i', v2NoStop, '/qn', '/l*v', 'C:\\logs\\control-v2.log'], 'msiexec-control-v2');
    w().saveLog('C:\\logs\\control-v2.log', 'msi-control-v2.log');
    const version = await runnerVersion();
    process.stderr.write(
      `[wine] control upgrade without stop: msiexec exit ${r.code}, installed: ${version}, running under the install: ${w().processesUnder(INSTALL_DIR).length}\n`,
    );
    // Wine's msiexec gives up on the held files (Windows would schedule a reboot): the old
    // version stays and so does every runner process. This is the bug the stop prevents.
    expect(r.code).not.toBe(0);
    expect(version).toBe('ollama version is 1.0.0');
    expect(w().processesUnder(INSTALL_DIR)).toHaveLength(4);
  });

  it('a file held by a program outside the install fails the upgrade: the deferred stop exits 3', async () => {
    // State left by the control: v1 (without hooks) installed, the runner running from it.
    // v3 (deferred stop only) upgrades it.
    // Another vendor's engine maps the install's model: reported, never killed, so the
    // authoritative stop ends our processes, exits 3 naming the file, and the install fails.
    const holder = await startRunner(w(), 'C:\\Other\\lib\\llama-server.exe', ['--model', app.model], 'foreign-holder');
    const before = hookLog().length;
    const r = await msiexec(['/i', v3Msi, '/qn', '/l*v', 'C:\\logs\\held.log'], 'msiexec-held');
    w().saveLog('C:\\logs\\held.log', 'msi-held.log');
    process.stderr.write(`[wine] upgrade with a foreign holder: msiexec exit ${r.code}\n`);
    // Windows: ERROR_INSTALL_FAILURE (1603). Wine 8 reports ERROR_FUNCTION_FAILED (1627); both
    // cut to 8 bits by Wine.
    expect([1603 & 0xff, 1627 & 0xff], `msiexec exit ${r.code}`).toContain(r.code);
    const results = hookLog()
      .slice(before)
      .filter((l) => l.type === 'result');
    expect(results.map((l) => l.exitCode)).toEqual([3]);
    const held = (results[0]!.result as { holders?: Array<{ path: string }> }).holders ?? [];
    expect(held.some((h) => h.path.toLowerCase() === app.model.toLowerCase())).toBe(true);
    expect(w().processesUnder(INSTALL_DIR)).toEqual([]);
    expect(
      w()
        .processes()
        .some((p) => p.commandLine.includes('foreign-holder')),
    ).toBe(true);
    expect(holder.engines).toHaveLength(1);
  });
});
