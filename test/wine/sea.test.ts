// The compiled Windows upgrader (out/sea/llm-upgrade-win32-x64.exe: Node 22 SEA with koffi as
// an asset) run under Wine as a custom action would run it: no Node installed, output to files.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { windowsSea } from './artifacts.js';
import {
  compileRunner,
  layoutForeignEngine,
  layoutInstall,
  startRunner,
  startScenario,
  type InstallLayout,
  type Scenario,
} from './fixtures.js';
import { WinePrefix, wineGate } from './harness.js';

const gate = wineGate('sea.test.ts', ['osslsigncode']);

interface CliProcess {
  pid: number;
  name: string;
  exe: string | null;
  orphan: boolean;
  inScope: boolean;
  how?: string;
}

describe.runIf(gate.run)('llm-upgrade-win32-x64.exe under Wine', () => {
  let wine: WinePrefix | undefined;
  let sea: string;
  let app: InstallLayout;
  let scenario: Scenario;

  const w = (): WinePrefix => {
    if (!wine) throw new Error('Wine prefix was not created');
    return wine;
  };

  beforeAll(async () => {
    const runner = compileRunner('1.0.0');
    const built = await windowsSea();
    sea = built.exe;
    process.stderr.write(`[wine] win32 SEA ${built.built ? `built in ${built.ms} ms` : 'up to date'}: ${sea}\n`);
    wine = await WinePrefix.create();
    app = layoutInstall(w(), 'C:\\App', runner);
    scenario = await startScenario(w(), app, layoutForeignEngine(w(), runner));
  });

  afterAll(async () => {
    await wine?.dispose();
  });

  it('status --json lists the tree and names the orphaned engine', async () => {
    const r = await w().run(sea, ['status', '--install-dir', app.root, '--json'], { name: 'sea-status', timeoutMs: 120_000 });
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const doc = JSON.parse(r.stdout) as { ok: boolean; processes: CliProcess[]; orphans: CliProcess[] };
    expect(doc.ok).toBe(true);
    const pids = new Set(doc.processes.map((p) => p.pid));
    for (const pid of [scenario.tree.frontend!, ...scenario.tree.engines, ...scenario.orphan.engines])
      expect(pids.has(pid), `pid ${pid} listed`).toBe(true);
    expect(pids.has(scenario.foreign.engines[0]!)).toBe(false);
    expect(doc.orphans.map((p) => p.pid)).toContain(scenario.orphan.engines[0]);
  });

  it('stop --install-dir C:\\App --json ends the tree and the orphan, spares C:\\Other, exit 0', async () => {
    const log = 'C:\\t\\stop.log';
    w().writeFile(log, '');
    const r = await w().run(sea, ['stop', '--install-dir', app.root, '--grace', '2s', '--timeout', '60s', '--json', '--log-file', log], {
      name: 'sea-stop',
      timeoutMs: 180_000,
    });
    expect(r.code, `stdout: ${r.stdout.slice(-3000)}\nstderr: ${r.stderr.slice(-3000)}`).toBe(0);
    const doc = JSON.parse(r.stdout) as { ok: boolean; stopped: CliProcess[]; survivors: CliProcess[] };
    expect(doc.ok).toBe(true);
    const stopped = new Map(doc.stopped.map((p) => [p.pid, p]));
    for (const pid of [scenario.tree.frontend!, ...scenario.tree.engines, ...scenario.orphan.engines]) {
      expect(stopped.get(pid)?.how, `pid ${pid} stopped`).toMatch(/^(exited|terminated|killed)$/);
    }
    expect(stopped.get(scenario.orphan.engines[0]!)?.orphan).toBe(true);
    expect(stopped.has(scenario.foreign.engines[0]!)).toBe(false);
    expect(doc.survivors).toEqual([]);

    expect(w().processesUnder(app.root)).toEqual([]);
    expect(w().processesUnder('C:\\Other')).toHaveLength(1);

    // The log is what a custom action leaves behind: JSON lines naming what was ended.
    const lines = readFileSync(w().toUnix(log), 'utf8')
      .split(/\r?\n/)
      .filter((l) => l.trim() !== '');
    expect(lines.length).toBeGreaterThan(0);
    const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const logged = JSON.stringify(events);
    expect(logged).toContain(String(scenario.orphan.engines[0]));
  });

  it('stop again with nothing running exits 0 and stops nothing', async () => {
    const r = await w().run(sea, ['stop', '--install-dir', app.root, '--json'], { name: 'sea-stop-idle', timeoutMs: 120_000 });
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const doc = JSON.parse(r.stdout) as { ok: boolean; stopped: CliProcess[] };
    expect(doc.ok).toBe(true);
    expect(doc.stopped).toEqual([]);
    expect(w().processesUnder('C:\\Other')).toHaveLength(1);
  });

  it('sweep ends only the orphaned engine and leaves the healthy server running', async () => {
    const orphan = await startRunner(w(), app.frontend, ['serve', '--orphan'], 'sweep-orphan');
    await w().waitFor(
      'the orphaning frontend to exit',
      () =>
        !w()
          .processesUnder(app.root)
          .some((p) => p.commandLine.includes('--orphan')),
    );
    const healthy = await startRunner(w(), app.frontend, ['serve'], 'sweep-healthy');
    const r = await w().run(sea, ['sweep', '--install-dir', app.root, '--json'], { name: 'sea-sweep', timeoutMs: 120_000 });
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const doc = JSON.parse(r.stdout) as { ok: boolean; stopped: CliProcess[] };
    expect(doc.stopped.map((p) => p.pid)).toEqual(orphan.engines);
    const running = w().processesUnder(app.root);
    expect(running).toHaveLength(2); // the server and its engine
    expect(running.some((p) => p.commandLine.includes('--orphan'))).toBe(false);
    expect(healthy.engines).toHaveLength(1);
  });

  it('a foreign program holding a file under the install: exit 3 naming the file, and it is not killed', async () => {
    // Another vendor's engine (outside the install) maps the install's model file.
    const foreign = await startRunner(w(), 'C:\\Other\\lib\\llama-server.exe', ['--model', app.model], 'foreign-holder');
    const r = await w().run(sea, ['stop', '--install-dir', app.root, '--grace', '1s', '--timeout', '5s', '--json'], {
      name: 'sea-stop-held',
      timeoutMs: 120_000,
    });
    expect(r.code, `stdout: ${r.stdout.slice(-3000)}\nstderr: ${r.stderr.slice(-3000)}`).toBe(3);
    const doc = JSON.parse(r.stdout) as { ok: boolean; holders: Array<{ pid: number; path: string; inScope: boolean }> };
    expect(doc.ok).toBe(false);
    expect(doc.holders.some((h) => h.path.toLowerCase() === app.model.toLowerCase())).toBe(true);
    expect(
      w()
        .processes()
        .some((p) => p.commandLine.includes('foreign-holder')),
    ).toBe(true);
    expect(foreign.engines).toHaveLength(1);
  });

  it('leaves no copy of koffi.node per run: every run above loaded the one verified copy in %LOCALAPPDATA%', () => {
    const users = join(w().prefix, 'drive_c', 'users');
    const copies: string[] = [];
    const leftovers: string[] = [];
    for (const user of readdirSync(users)) {
      const local = join(users, user, 'AppData', 'Local');
      if (!existsSync(local)) continue;
      const kept = join(local, 'llm-upgrade');
      if (existsSync(kept)) for (const d of readdirSync(kept)) if (d.startsWith('koffi-')) copies.push(join(kept, d, 'koffi.node'));
      // %TEMP% is C:\users\USER\Temp under this Wine, AppData\Local\Temp on Windows.
      for (const temp of [join(users, user, 'Temp'), join(local, 'Temp')])
        if (existsSync(temp)) leftovers.push(...readdirSync(temp).filter((d) => d.startsWith('llm-upgrade-koffi-')));
    }
    expect(leftovers, 'fresh temp copies (one per run before)').toEqual([]);
    expect(copies).toHaveLength(1);
    expect(readdirSync(dirname(copies[0]!))).toEqual(['koffi.node']); // no .tmp left
    expect(statSync(copies[0]!).size).toBeGreaterThan(500_000);
  });
});
