// The NSIS example installer (installers/nsis/example.nsi + the include rendered by
// @llm-upgrade/installer-hooks, the win32 SEA extracted to $PLUGINSDIR and run through nsExec)
// doing a silent upgrade and a silent uninstall under Wine while the fake runner runs.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildNsis, DEFAULT_NSIS_LOG_FILE_NAME, type InstallerDescription } from '@llm-upgrade/installer-hooks';
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
  zPath,
  type HookLogLine,
} from './fixtures.js';
import { WinePrefix, wineGate } from './harness.js';

const gate = wineGate('nsis.test.ts', ['osslsigncode', 'makensis']);

const INSTALL_DIR = 'C:\\App';

describe.runIf(gate.run)('NSIS silent upgrade and uninstall under Wine', () => {
  let wine: WinePrefix | undefined;
  let work: string | undefined;
  let setupV1: string;
  let setupV2: string;
  let v2Model: Buffer;
  const app = installedLayout(INSTALL_DIR);

  const w = (): WinePrefix => {
    if (!wine) throw new Error('Wine prefix was not created');
    return wine;
  };

  const hookLog = (): HookLogLine[] => readHookLog(w(), DEFAULT_NSIS_LOG_FILE_NAME);

  function stoppedSince(lineCount: number) {
    return hookLog()
      .slice(lineCount)
      .filter((l) => l.type === 'result')
      .flatMap((l) => l.result?.stopped ?? []);
  }

  async function runnerVersion(): Promise<string> {
    return (await w().run(app.frontend, ['--version'], { name: 'version' })).stdout.trim();
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'llm-upgrade-wine-nsis-'));
    const sea = (await windowsSea()).exe;
    const description = (version: string, payloadDir: string): InstallerDescription => ({
      productName: 'Fake Ollama',
      manufacturer: 'llm-upgrade tests',
      version,
      upgradeCode: '{6B0E7C2A-4D1F-4C55-9E21-3A7C1B0F5D11}',
      payloadDir,
      installDirName: 'Fake Ollama',
      upgraderExe: sea,
      upgraderArgs: ['--grace', '2s', '--timeout', '10s'],
    });
    const p1 = makePayload(join(work, 'payload-1'), '1.0.0');
    const p2 = makePayload(join(work, 'payload-2'), '2.0.0');
    v2Model = p2.modelBytes;
    const build = (version: string, payloadDir: string) => {
      const d = description(version, payloadDir);
      return cachedInstaller('nsis', { upgraderExe: sea, payloadDir, description: d }, (outFile) => buildNsis(d, { outFile }));
    };
    const [s1, s2] = await Promise.all([build('1.0.0', p1.dir), build('2.0.0', p2.dir)]);
    setupV1 = zPath(s1);
    setupV2 = zPath(s2);
    wine = await WinePrefix.create();
    layoutForeignEngine(w(), compileRunner('1.0.0'));
  });

  afterAll(async () => {
    if (wine) for (const [i, f] of findTempFiles(wine, DEFAULT_NSIS_LOG_FILE_NAME).entries()) wine.saveLog(f, `hook-${i}.log`);
    await wine?.dispose();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('setup.exe /S /D=C:\\App installs version 1', async () => {
    const r = await w().run(setupV1, ['/S', `/D=${INSTALL_DIR}`], { name: 'setup-v1', timeoutMs: 300_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(await runnerVersion()).toBe('ollama version is 1.0.0');
    const results = hookLog().filter((l) => l.type === 'result');
    expect(results).toHaveLength(1);
    expect(results[0]!.result?.stopped).toEqual([]);
  });

  it('setup.exe /S upgrades over a running tree and an orphaned engine: all stopped, files are v2', async () => {
    const scenario = await startScenario(w(), app, 'C:\\Other\\lib\\llama-server.exe');
    const before = hookLog().length;
    const r = await w().run(setupV2, ['/S', `/D=${INSTALL_DIR}`], { name: 'setup-v2', timeoutMs: 300_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);

    const stopped = stoppedSince(before);
    const pids = new Set(stopped.map((p) => p.pid));
    for (const pid of [scenario.tree.frontend!, ...scenario.tree.engines, ...scenario.orphan.engines])
      expect(pids.has(pid), `pid ${pid} in the log`).toBe(true);
    expect(stopped.find((p) => p.pid === scenario.orphan.engines[0])?.orphan).toBe(true);
    expect(pids.has(scenario.foreign.engines[0]!)).toBe(false);

    expect(w().processesUnder(INSTALL_DIR)).toEqual([]);
    expect(w().processesUnder('C:\\Other')).toHaveLength(1);
    expect(await runnerVersion()).toBe('ollama version is 2.0.0');
    expect(readFileSync(w().toUnix(app.model)).equals(v2Model)).toBe(true);
  });

  it("silent mode aborts with the upgrader's exit code when a foreign program holds a file, replacing nothing", async () => {
    // Another vendor's engine outside the install maps the install's model: never ours to kill.
    const holder = await startRunner(w(), 'C:\\Other\\lib\\llama-server.exe', ['--model', app.model], 'foreign-holder');
    const before = hookLog().length;
    const r = await w().run(setupV1, ['/S', `/D=${INSTALL_DIR}`], { name: 'setup-v1-held', timeoutMs: 300_000 });
    expect(r.code).toBe(3);
    const results = hookLog()
      .slice(before)
      .filter((l) => l.type === 'result');
    expect(results.map((l) => l.exitCode)).toEqual([3]);
    // Aborted before any File: still version 2, and the holder still runs.
    expect(await runnerVersion()).toBe('ollama version is 2.0.0');
    expect(readFileSync(w().toUnix(app.model)).equals(v2Model)).toBe(true);
    expect(
      w()
        .processes()
        .some((p) => p.commandLine.includes('foreign-holder')),
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

  it('uninstall.exe /S stops the runner and removes the install dir', async () => {
    const orphan = await startRunner(w(), app.frontend, ['serve', '--orphan'], 'orphan-v2');
    const tree = await startRunner(w(), app.frontend, ['serve', '--ignore-close'], 'tree-v2');
    const before = hookLog().length;
    const r = await w().run(`${INSTALL_DIR}\\uninstall.exe`, ['/S'], { name: 'uninstall', timeoutMs: 300_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    // The uninstaller re-runs itself from %TEMP% (so it can delete its own file) and returns at
    // once; wait for that copy to finish.
    await w().waitFor(
      'the uninstaller copy to finish and remove the install dir',
      () =>
        !existsSync(w().toUnix(INSTALL_DIR)) &&
        !w()
          .processes()
          .some((p) => /\\~nsu[^\\]*\.tmp\\/i.test(p.commandLine)),
      120_000,
    );

    const pids = new Set(stoppedSince(before).map((p) => p.pid));
    for (const pid of [tree.frontend!, ...tree.engines, ...orphan.engines]) expect(pids.has(pid), `pid ${pid} in the log`).toBe(true);
    expect(w().processesUnder(INSTALL_DIR)).toEqual([]);
    expect(w().processesUnder('C:\\Other')).toHaveLength(1);
    expect(existsSync(w().toUnix(INSTALL_DIR)) ? readdirSync(w().toUnix(INSTALL_DIR)) : []).toEqual([]);
  });
});
