// The fake runner itself, checked under Wine with Wine's own tools and the Linux view of the
// prefix: the other wine tests rely on each of these behaviours.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WinePrefix, wineGate } from './harness.js';
import { compileRunner, layoutForeignEngine, layoutInstall, startRunner, type InstallLayout } from './fixtures.js';

const gate = wineGate('runner.test.ts');

describe.runIf(gate.run)('fake runner under Wine', () => {
  let wine: WinePrefix | undefined;
  let app: InstallLayout;
  let foreign: string;

  const w = (): WinePrefix => {
    if (!wine) throw new Error('Wine prefix was not created');
    return wine;
  };

  beforeAll(async () => {
    const exe = compileRunner('1.0.0');
    wine = await WinePrefix.create();
    app = layoutInstall(wine, 'C:\\App', exe);
    foreign = layoutForeignEngine(wine, exe);
  });

  afterAll(async () => {
    await wine?.dispose();
  });

  it('prints the compiled-in version', async () => {
    const r = await w().run(app.frontend, ['--version'], { name: 'version' });
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('ollama version is 1.0.0');
  });

  it('serve starts engines from lib\\ollama that map the model file, visible from Linux', async () => {
    const pids = await startRunner(w(), app.frontend, ['serve', '--engines', '2'], 'serve-two');
    expect(pids.frontend).toBeGreaterThan(0);
    expect(pids.engines).toHaveLength(2);
    const engines = w().processesUnder('C:\\App\\lib\\ollama');
    expect(engines.filter((p) => p.commandLine.includes('--model'))).toHaveLength(2);
    // Wine maps the model file's Unix path into the engine's Linux process.
    const modelUnix = w().toUnix(app.model);
    for (const engine of engines) {
      expect(readFileSync(`/proc/${engine.pid}/maps`, 'utf8')).toContain(modelUnix);
    }
  });

  it('an engine holding the model makes deleting it fail (a sharing violation), as on Windows', async () => {
    // cmd's del reports the failure but may still exit 0; whether the file is there is what counts.
    await w().run('cmd', ['/c', 'del', app.model], { name: 'del-held-model' });
    await w().run('cmd', ['/c', 'move', app.model, `${app.model}.old`], { name: 'move-held-model' });
    expect(readFileSync(w().toUnix(app.model)).length).toBe(16384);
  });

  it('--orphan: the frontend exits and its engine keeps running', async () => {
    const before = w().processesUnder('C:\\App').length;
    const pids = await startRunner(w(), app.frontend, ['serve', '--orphan'], 'orphan');
    expect(pids.engines).toHaveLength(1);
    await w().waitFor('the orphaning frontend to exit', () =>
      w()
        .processesUnder('C:\\App')
        .filter((p) => p.commandLine.includes('--orphan')).length === 0
        ? true
        : null,
    );
    expect(w().processesUnder('C:\\App').length).toBe(before + 1);
  });

  it('a polite close (taskkill without /F) ends a normal runner but not one with --ignore-close', async () => {
    const polite = await startRunner(w(), app.frontend, ['serve', '--engines', '0'], 'polite');
    const stubborn = await startRunner(w(), app.frontend, ['serve', '--engines', '0', '--ignore-close'], 'stubborn');
    const r1 = await w().run('taskkill', ['/pid', String(polite.frontend)], { name: 'taskkill-polite' });
    const r2 = await w().run('taskkill', ['/pid', String(stubborn.frontend)], { name: 'taskkill-stubborn' });
    expect(r1.code, r1.stdout + r1.stderr).toBe(0);
    expect(r2.code, r2.stdout + r2.stderr).toBe(0);
    await w().waitFor('the polite runner to exit', () =>
      w()
        .processesUnder('C:\\App')
        .some((p) => p.commandLine.includes('--engines 0') && !p.commandLine.includes('--ignore-close'))
        ? null
        : true,
    );
    await new Promise((r) => setTimeout(r, 1000));
    expect(
      w()
        .processesUnder('C:\\App')
        .some((p) => p.commandLine.includes('--ignore-close')),
    ).toBe(true);
    const forced = await w().run('taskkill', ['/f', '/pid', String(stubborn.frontend)], { name: 'taskkill-force' });
    expect(forced.code, forced.stdout + forced.stderr).toBe(0);
    await w().waitFor('the stubborn runner to exit after /F', () =>
      w()
        .processesUnder('C:\\App')
        .some((p) => p.commandLine.includes('--ignore-close'))
        ? null
        : true,
    );
  });

  it("Wine's taskkill has no /T, so a tree kill must be done by the backend itself", async () => {
    const pids = await startRunner(w(), app.frontend, ['serve'], 'tree');
    const r = await w().run('taskkill', ['/f', '/t', '/pid', String(pids.frontend)], { name: 'taskkill-tree' });
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/invalid command line option|not supported/i);
  });

  it('a same-named engine outside the install runs from its own path', async () => {
    const pids = await startRunner(w(), foreign, ['--model', app.model], 'foreign');
    expect(pids.engines).toHaveLength(1);
    expect(w().processesUnder('C:\\Other')).toHaveLength(1);
    expect(w().processesUnder('C:\\Other')[0]!.commandLine.toLowerCase()).toContain('c:\\other\\lib\\llama-server.exe');
  });
});
