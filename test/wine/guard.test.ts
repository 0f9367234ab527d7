// `llm-upgrade run` from the win32 single executable under Wine: the wrapper puts itself in a
// Job Object with KILL_ON_JOB_CLOSE before starting a mingw frontend with two engines (which
// ignore a polite close). Frontend killed: the wrapper ends the engines and exits. Wrapper
// killed: nobody is left to clean up, and the job's last handle closing ends the engines.
// Then `watch` from the same executable: a killed frontend's (orphaned) engines are ended.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { windowsSea } from './artifacts.js';
import { compileRunner, layoutInstall, parseReady, startRunner, type InstallLayout } from './fixtures.js';
import { WinePrefix, wineGate } from './harness.js';

const gate = wineGate('guard.test.ts', ['osslsigncode']);

describe.runIf(gate.run)('llm-upgrade run under Wine (Job Object)', () => {
  let wine: WinePrefix | undefined;
  let sea: string;
  let app: InstallLayout;
  let n = 0;
  const w = (): WinePrefix => {
    if (!wine) throw new Error('Wine prefix was not created');
    return wine;
  };

  beforeAll(async () => {
    const runner = compileRunner('1.0.0');
    sea = (await windowsSea()).exe;
    wine = await WinePrefix.create();
    app = layoutInstall(w(), 'C:\\App', runner);
  });
  afterAll(async () => {
    await wine?.dispose();
  });

  async function startGuarded(env: Record<string, string> = {}): Promise<{ log: string; wrapper: number; frontend: number }> {
    const ready = `C:\\ready\\guard-${++n}.txt`;
    const log = `C:\\t\\guard-${n}.log`;
    w().writeFile(log, '');
    w().writeFile('C:\\ready\\.keep', '');
    w().start(
      sea,
      [
        'run',
        '--grace',
        '1s',
        '--log-file',
        log,
        '--',
        app.frontend,
        'serve',
        '--engines',
        '2',
        '--ignore-close',
        '--model',
        app.model,
        '--ready-file',
        ready,
      ],
      { name: `guard-run-${n}`, env },
    );
    const pids = parseReady(await w().waitForFile(ready, 120_000));
    expect(pids.engines).toHaveLength(2);
    const under = await w().waitFor('frontend and engines under C:\\App', () =>
      w().processesUnder(app.root).length === 3 ? w().processesUnder(app.root) : null,
    );
    const frontend = under.find((p) => p.commandLine.includes('ollama.exe') && p.commandLine.includes(' serve'));
    const wrapper = w()
      .processes()
      .find((p) => p.commandLine.includes('llm-upgrade-win32-x64.exe') && p.commandLine.includes(' run '));
    if (!frontend || !wrapper) throw new Error(`frontend or wrapper not found: ${JSON.stringify(w().processes())}`);
    return { log, wrapper: wrapper.pid, frontend: frontend.pid };
  }

  const logEvents = (log: string) =>
    readFileSync(w().toUnix(log), 'utf8')
      .split(/\r?\n/)
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as { type: string; mechanisms?: string[]; exitCode?: number });

  it('the frontend killed: the wrapper ends both engines (they ignore a polite close) and exits', async () => {
    const { log, wrapper, frontend } = await startGuarded();
    expect(logEvents(log).find((e) => e.type === 'contain')?.mechanisms).toContain('job-object');
    process.kill(frontend, 'SIGKILL');
    await w().waitFor('no process under C:\\App', () => w().processesUnder(app.root).length === 0, 30_000);
    await w().waitFor(
      'the wrapper to exit',
      () =>
        !w()
          .processes()
          .some((p) => p.pid === wrapper),
      30_000,
    );
    const events = logEvents(log);
    expect(events.some((e) => e.type === 'cleanup')).toBe(true);
    expect(events.find((e) => e.type === 'result')?.exitCode).toBeTypeOf('number');
  });

  it('the wrapper killed: the Job Object (KILL_ON_JOB_CLOSE) ends the frontend and both engines', async () => {
    const { wrapper } = await startGuarded();
    process.kill(wrapper, 'SIGKILL');
    await w().waitFor('no process under C:\\App', () => w().processesUnder(app.root).length === 0, 30_000);
  });

  it('control: without the Job Object (test hook), the engines outlive a killed wrapper', async () => {
    const { wrapper, log } = await startGuarded({ LLM_UPGRADE_TEST_RUN_NO_CONTAIN: '1' });
    expect(logEvents(log).find((e) => e.type === 'contain')?.mechanisms).toEqual([]);
    process.kill(wrapper, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 5_000));
    const left = w()
      .processesUnder(app.root)
      .map((p) => p.commandLine);
    for (const p of w().processesUnder(app.root)) process.kill(p.pid, 'SIGKILL');
    // libuv puts the frontend in its own kill-on-close job, so only the engines (grandchildren) tell.
    expect(left.filter((c) => c.includes('llama-server.exe'))).toHaveLength(2);
  });

  it("watch: a killed frontend's engines end (process handles + rescans), the other tree is untouched", async () => {
    // The control test's SIGKILLs take a moment to end Windows processes under load.
    await w().waitFor("the control run's engines to end", () => w().processesUnder(app.root).length === 0, 30_000);
    const log = 'C:\\t\\watch.log';
    w().writeFile(log, '');
    w().start(sea, ['watch', '--install-dir', app.root, '--grace', '1s', '--log-file', log], { name: 'guard-watch' });
    await w().waitFor('watch to start', () => readFileSync(w().toUnix(log), 'utf8').includes('"type":"watching"'), 120_000);
    const a = await startRunner(w(), app.frontend, ['serve', '--engines', '2', '--model', app.model], 'wa');
    const b = await startRunner(w(), app.frontend, ['serve', '--engines', '1', '--model', app.model], 'wb');
    const enginesOf = (frontend: number | null) =>
      w()
        .processesUnder(app.root)
        .filter((p) => p.commandLine.includes(`engine-${frontend}-`));
    expect(enginesOf(a.frontend)).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 5_000)); // rescans see both trees healthy: nothing ended
    expect(w().processesUnder(app.root)).toHaveLength(5);
    const frontendA = w()
      .processesUnder(app.root)
      .find((p) => p.commandLine.includes('ollama.exe') && p.commandLine.includes('\\wa-'));
    if (!frontendA) throw new Error('frontend A not found');
    const t0 = Date.now();
    process.kill(frontendA.pid, 'SIGKILL');
    await w().waitFor('the engines of the killed frontend to end', () => enginesOf(a.frontend).length === 0, 30_000);
    process.stderr.write(`[wine] watch: orphaned engines ended ${Date.now() - t0} ms after the frontend was killed\n`);
    expect(enginesOf(b.frontend)).toHaveLength(1);
    expect(w().processesUnder(app.root)).toHaveLength(2);
    // The engines end on the polite request; the sweep's verification and its event follow.
    await w().waitFor('the swept event in the log', () => logEvents(log).some((e) => e.type === 'swept'), 20_000);
    const events = logEvents(log) as Array<{ type: string; mode?: string }>;
    expect(events.find((e) => e.type === 'watching')?.mode).toBe('handles');
  });
});
