// The real Windows backend (packages/core, koffi → kernel32) running under Windows Node 22 in
// Wine: discovery finds the fake runner tree with exe paths and creation times, and stop()
// ends the tree including an orphaned engine while a same-named exe outside the install lives.
import { copyFileSync, cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProcessInfo, StopResult } from '@llm-upgrade/core';
import { bundleBackendDriver, koffiForWindows, windowsNodeExe } from './artifacts.js';
import { compileRunner, layoutForeignEngine, layoutInstall, startScenario, type InstallLayout, type RunnerPids } from './fixtures.js';
import { WinePrefix, wineGate } from './harness.js';

const gate = wineGate('backend.test.ts');

interface DriverOutput<T> {
  ok: boolean;
  ms: number;
  result: T;
  error?: { code?: string; message: string; stack?: string };
  events: Array<{ type: string }>;
}

describe.runIf(gate.run)('Windows backend under Wine (Node 22 win-x64 + koffi)', () => {
  let wine: WinePrefix | undefined;
  let nodeExe: string;
  let app: InstallLayout;
  let foreign: string;
  let orphan: RunnerPids;
  let tree: RunnerPids;
  let foreignPids: RunnerPids;
  let sequence = 0;

  const w = (): WinePrefix => {
    if (!wine) throw new Error('Wine prefix was not created');
    return wine;
  };

  /** Runs the driver under node.exe in the prefix; its JSON result comes back through a file. */
  async function driver<T>(args: string[]): Promise<DriverOutput<T>> {
    const out = `C:\\t\\driver-${++sequence}.json`;
    const r = await w().run(nodeExe, ['C:\\t\\backend-driver.cjs', out, ...args], { name: `driver-${args[0]}`, timeoutMs: 120_000 });
    w().saveLog(out, `driver-${sequence}-${args[0]}.json`);
    let parsed: DriverOutput<T>;
    try {
      parsed = JSON.parse(readFileSync(w().toUnix(out), 'utf8')) as DriverOutput<T>;
    } catch (error) {
      throw new Error(
        `driver ${args.join(' ')} wrote no result (exit ${r.code}): ${(error as Error).message}\nstdout: ${r.stdout.slice(-3000)}\nstderr: ${r.stderr.slice(-3000)}`,
      );
    }
    if (!parsed.ok)
      throw new Error(`driver ${args.join(' ')} failed: ${parsed.error?.code ?? ''} ${parsed.error?.stack ?? parsed.error?.message}`);
    expect(r.code, `driver exit code; stderr: ${r.stderr.slice(-2000)}`).toBe(0);
    return parsed;
  }

  beforeAll(async () => {
    const runner = compileRunner('1.0.0');
    const [node, koffi, bundle] = await Promise.all([windowsNodeExe(), koffiForWindows(), bundleBackendDriver()]);
    nodeExe = node;
    wine = await WinePrefix.create();

    // C:\t holds the driver and an npm-style node_modules: koffi's JS package resolves the
    // native module from @koromix/koffi-win32-x64, as after `npm install` on Windows.
    const t = w().toUnix('C:\\t');
    mkdirSync(t, { recursive: true });
    copyFileSync(bundle, join(t, 'backend-driver.cjs'));
    cpSync(koffi.koffiPackage, join(t, 'node_modules', 'koffi'), { recursive: true, dereference: true });
    const nativeDir = join(t, 'node_modules', '@koromix', 'koffi-win32-x64');
    mkdirSync(join(nativeDir, 'win32_x64'), { recursive: true });
    copyFileSync(koffi.nativeModule, join(nativeDir, 'win32_x64', 'koffi.node'));
    writeFileSync(join(nativeDir, 'index.js'), "module.exports = require('./win32_x64/koffi.node');\n");
    writeFileSync(
      join(nativeDir, 'package.json'),
      JSON.stringify({ name: '@koromix/koffi-win32-x64', version: '3.3.4', main: './index.js' }),
    );

    app = layoutInstall(w(), 'C:\\App', runner);
    foreign = layoutForeignEngine(w(), runner);
    ({ orphan, tree, foreign: foreignPids } = await startScenario(w(), app, foreign));
  });

  afterAll(async () => {
    await wine?.dispose();
  });

  it('snapshot() lists the runner tree with exe paths, parents and creation times', async () => {
    const out = await driver<{ self: number; processes: ProcessInfo[]; unreadable: ProcessInfo[] }>(['snapshot']);
    const byPid = new Map(out.result.processes.map((p) => [p.pid, p]));
    const lower = (s: string | null | undefined) => (s ?? '').toLowerCase();

    const frontend = byPid.get(tree.frontend!);
    expect(frontend, `frontend ${tree.frontend} in snapshot`).toBeDefined();
    expect(lower(frontend!.exe)).toBe('c:\\app\\ollama.exe');
    expect(frontend!.name.toLowerCase()).toBe('ollama.exe');
    for (const pid of [...tree.engines, ...orphan.engines]) {
      const engine = byPid.get(pid);
      expect(engine, `engine ${pid} in snapshot`).toBeDefined();
      expect(lower(engine!.exe)).toBe('c:\\app\\lib\\ollama\\llama-server.exe');
      expect(engine!.cmdline.join(' ')).toContain('--model');
    }
    for (const pid of tree.engines) expect(byPid.get(pid)!.ppid).toBe(tree.frontend);
    // The orphan's parent is dead: its recorded parent pid is not a live process that started
    // before it (or was cleared to 0 by the backend).
    const orphanEngine = byPid.get(orphan.engines[0]!)!;
    const parent = byPid.get(orphanEngine.ppid);
    expect(parent === undefined || parent.startTime > orphanEngine.startTime).toBe(true);

    const other = byPid.get(foreignPids.engines[0]!);
    expect(lower(other?.exe)).toBe('c:\\other\\lib\\llama-server.exe');

    // Creation times are real FILETIMEs: within the last minutes, ordered as started.
    const now = Date.now();
    for (const p of [frontend!, orphanEngine]) {
      expect(p.startTime).toBeGreaterThan(now - 10 * 60_000);
      expect(p.startTime).toBeLessThanOrEqual(now + 60_000);
      expect(p.startKey).toMatch(/^\d+$/);
    }
    expect(orphanEngine.startTime).toBeLessThanOrEqual(frontend!.startTime);
    expect(byPid.get(out.result.self)?.exe?.toLowerCase()).toMatch(/node\.exe$/);
  });

  it('holders lists the install files the engines hold', async () => {
    const out = await driver<{
      clean: boolean;
      complete: boolean;
      holders: Array<{ pid: number; path: string; kind: string; inScope: boolean }>;
    }>(['holders', app.root]);
    expect(out.result.clean).toBe(false);
    const holderPids = new Set(out.result.holders.map((h) => h.pid));
    for (const pid of [...tree.engines, ...orphan.engines]) expect(holderPids.has(pid), `engine ${pid} among holders`).toBe(true);
    expect(holderPids.has(foreignPids.engines[0]!)).toBe(false);
    // The mapped model is found too: by Restart Manager where it answers, else by the rename probe.
    expect(out.result.holders.some((h) => h.path.toLowerCase() === app.model.toLowerCase())).toBe(true);
  });

  it('stop() ends the tree and the orphaned engine, and spares llama-server.exe outside the install', async () => {
    const out = await driver<StopResult>(['stop', app.root]);
    const result = out.result;
    expect(result.ok, JSON.stringify({ survivors: result.survivors, holders: result.holders }, null, 1)).toBe(true);
    const stopped = new Set(result.stopped.map((p) => p.pid));
    for (const pid of [tree.frontend!, ...tree.engines, ...orphan.engines])
      expect(stopped.has(pid), `pid ${pid} reported stopped`).toBe(true);
    expect(result.stopped.find((p) => p.pid === orphan.engines[0])?.orphan).toBe(true);
    expect(stopped.has(foreignPids.engines[0]!)).toBe(false);
    expect(result.survivors).toEqual([]);

    // Seen from Linux: nothing of the install runs; the foreign engine does.
    expect(w().processesUnder('C:\\App')).toEqual([]);
    expect(w().processesUnder('C:\\Other')).toHaveLength(1);
    // The model is free again: Windows lets it be renamed.
    const moved = await w().run('cmd', ['/c', 'move', app.model, `${app.model}.old`], { name: 'move-freed-model' });
    expect(moved.code, moved.stdout + moved.stderr).toBe(0);
    expect(readFileSync(w().toUnix(`${app.model}.old`)).length).toBe(16384);
  });
});
