// `llm-upgrade apply` on Windows: the win32 single executable packs our
// `<app>-win32-x64.zip` and applies it over a running per-user install (path with spaces) with
// an orphaned engine, under Wine: stop, journaled swap under Windows sharing rules, restart,
// post-check, rollback on a failed post-check, and a kill of the upgrader mid-swap finished by
// `recover` (all-old or all-new). Ollama's own ollama-windows-amd64.zip: apply-ollama-zip.test.ts.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { windowsSea } from './artifacts.js';
import { compileRunner, layoutForeignEngine, makePayload, startRunner, zPath } from './fixtures.js';
import { WinePrefix, wineGate } from './harness.js';

const gate = wineGate('apply.test.ts');

/** `apply --json`: the result itself, or `{ ok: false, error }`. */
interface ApplyJson {
  ok: boolean;
  from?: string | null;
  to?: string;
  stopped?: Array<{ pid: number; orphan?: boolean }>;
  rolledBack?: boolean;
  restarted?: unknown;
  error?: { code: string; phase?: string; changed?: boolean };
}

describe.runIf(gate.run)('llm-upgrade apply of our win32 zip under Wine', () => {
  let wine: WinePrefix | undefined;
  let work: string | undefined;
  let sea: string;
  let root: string;
  const zips: Record<string, string> = {};
  const bytes: Record<string, Record<string, string>> = {};
  const FILES = ['ollama.exe', 'lib\\ollama\\llama-server.exe', 'models\\tiny.gguf'];
  const w = (): WinePrefix => {
    if (!wine) throw new Error('Wine prefix was not created');
    return wine;
  };
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  const installed = (): Record<string, string> =>
    Object.fromEntries(
      FILES.map((f) => [f, existsSync(w().toUnix(`${root}\\${f}`)) ? sha(readFileSync(w().toUnix(`${root}\\${f}`))) : 'missing']),
    );
  const PROFILE = 'C:\\llm-upgrade\\profile.json';
  const RESTART_READY = 'C:\\ready\\restarted.txt';

  async function upgrader(args: string[], name: string, env: Record<string, string> = {}) {
    const log = `C:\\llm-upgrade\\${name}.log`;
    const r = await w().run(sea, [...args, '--json', '--log-file', log], { name, timeoutMs: 240_000, env });
    w().saveLog(log, `${name}.jsonl`);
    let json: ApplyJson | undefined;
    try {
      json = JSON.parse(r.stdout) as ApplyJson;
    } catch {
      json = undefined;
    }
    return { ...r, json };
  }

  const apply = (zip: string, name: string, extra: string[] = [], env: Record<string, string> = {}) =>
    upgrader(
      ['apply', zPath(zip), '--install-dir', root, '--profile', PROFILE, '--grace', '2s', '--timeout', '15s', '--yes', ...extra],
      name,
      env,
    );

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'llm-upgrade-wine-apply-'));
    sea = zPath((await windowsSea()).exe);
    wine = await WinePrefix.create();
    const localAppData = (await w().mustRun('wine', ['cmd', '/c', 'echo', '%LOCALAPPDATA%'], { name: 'localappdata' })).stdout.trim();
    root = `${localAppData}\\Programs\\Fake Ollama`;
    layoutForeignEngine(w(), compileRunner('9.9.9'));
    w().writeFile('C:\\Other\\models\\other.gguf', Buffer.alloc(8192, 7));
    w().writeFile(
      PROFILE,
      JSON.stringify({
        name: 'fake-ollama',
        processes: { supervisor: [], server: ['ollama'], engine: ['llama-server'] },
        startCommand: ['ollama.exe', 'serve', '--ready-file', RESTART_READY],
      }),
    );
    // v3 claims 3.0.0 but ships 2.0.0 binaries: its post-check (`ollama.exe --version`) fails.
    for (const [label, runnerVersion, packVersion] of [
      ['1', '1.0.0', '1.0.0'],
      ['2', '2.0.0', '2.0.0'],
      ['3', '2.0.0', '3.0.0'],
      ['4', '4.0.0', '4.0.0'],
    ] as const) {
      const p = makePayload(join(work, `payload-${label}`), runnerVersion);
      if (label === '3') writeFileSync(join(p.dir, 'models', 'tiny.gguf'), Buffer.from('v3 model\n'.repeat(512)));
      const zip = join(work, `fake-ollama-${packVersion}-win32-x64.zip`);
      const r = await w().run(
        sea,
        [
          'pack',
          zPath(p.dir),
          '--name',
          'fake-ollama',
          '--version',
          packVersion,
          '--platform',
          'win32-x64',
          '--smoke',
          'ollama.exe --version',
          '--out',
          zPath(zip),
          '--json',
        ],
        { name: `pack-${label}`, timeoutMs: 120_000 },
      );
      if (r.code !== 0) throw new Error(`pack ${packVersion} exited ${r.code}: ${r.stdout} ${r.stderr}`);
      zips[packVersion] = zip;
      bytes[packVersion] = Object.fromEntries(FILES.map((f) => [f, sha(readFileSync(join(p.dir, ...f.split('\\'))))]));
    }
  });

  afterAll(async () => {
    await wine?.dispose();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('installs 1.0.0 from our zip into an empty per-user directory', async () => {
    mkdirSync(w().toUnix(root), { recursive: true });
    const r = await apply(zips['1.0.0']!, 'apply-1', ['--no-restart']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(installed()).toEqual(bytes['1.0.0']);
  });

  it("applies 2.0.0 over a running tree and an orphaned engine: all stopped, swapped, restarted; the other vendor's engine spared", async () => {
    const orphan = await startRunner(w(), `${root}\\ollama.exe`, ['serve', '--orphan'], 'orphan');
    await w().waitFor(
      'the orphaning frontend to exit',
      () =>
        !w()
          .processesUnder(root)
          .some((p) => p.commandLine.includes('--orphan')),
    );
    const tree = await startRunner(w(), `${root}\\ollama.exe`, ['serve', '--engines', '2', '--ignore-close'], 'tree');
    const foreign = await startRunner(w(), 'C:\\Other\\lib\\llama-server.exe', ['--model', 'C:\\Other\\models\\other.gguf'], 'foreign');
    rmSync(w().toUnix(RESTART_READY), { force: true });
    const r = await apply(zips['2.0.0']!, 'apply-2');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json?.ok).toBe(true);
    const stopped = r.json?.stopped ?? [];
    const pids = new Set(stopped.map((p) => p.pid));
    for (const pid of [tree.frontend!, ...tree.engines, ...orphan.engines]) expect(pids.has(pid), `pid ${pid} stopped`).toBe(true);
    expect(stopped.find((p) => p.pid === orphan.engines[0])?.orphan).toBe(true);
    expect(pids.has(foreign.engines[0]!)).toBe(false);
    expect(installed()).toEqual(bytes['2.0.0']);
    // Restarted from the new files: the profile's startCommand ran and its engine maps the v2 model.
    await w().waitForFile(RESTART_READY, 60_000);
    expect(w().processesUnder(root).length).toBeGreaterThanOrEqual(2);
    expect(w().processesUnder('C:\\Other')).toHaveLength(1);
    expect((await w().run(`${root}\\ollama.exe`, ['--version'], { name: 'version-2' })).stdout.trim()).toBe('ollama version is 2.0.0');
  });

  it('a package whose post-check fails is rolled back (exit 4): every file 2.0.0 again, the old version restarted', async () => {
    rmSync(w().toUnix(RESTART_READY), { force: true });
    const r = await apply(zips['3.0.0']!, 'apply-3');
    expect(r.code, r.stdout + r.stderr).toBe(4);
    expect(r.json?.ok).toBe(false);
    expect(installed()).toEqual(bytes['2.0.0']);
    await w().waitForFile(RESTART_READY, 60_000);
    expect((await w().run(`${root}\\ollama.exe`, ['--version'], { name: 'version-3' })).stdout.trim()).toBe('ollama version is 2.0.0');
  });

  it('the upgrader killed mid-swap, then `recover`: the install is all-old or all-new, byte for byte', async () => {
    // Journal write 4 is inside the swap (after the plan, the stop and the first moves).
    const crashed = await apply(zips['4.0.0']!, 'apply-4-crash', ['--no-restart'], { LLM_UPGRADE_TEST_CRASH_AT_STEP: '4' });
    expect(crashed.code, crashed.stdout + crashed.stderr).not.toBe(0);
    const mid = installed();
    // Really mid-swap: the files are neither the old set nor the new one.
    expect([JSON.stringify(bytes['2.0.0']), JSON.stringify(bytes['4.0.0'])]).not.toContain(JSON.stringify(mid));
    const r = await upgrader(['recover', '--install-dir', root, '--profile', PROFILE, '--yes'], 'recover');
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(['rolled-back', 'rolled-forward', 'completed']).toContain((r.json as { action?: string } | undefined)?.action);
    const after = installed();
    expect([JSON.stringify(bytes['2.0.0']), JSON.stringify(bytes['4.0.0'])], `mid-swap ${JSON.stringify(mid)}`).toContain(
      JSON.stringify(after),
    );
    // Once recovered, the same package applies cleanly.
    const again = await apply(zips['4.0.0']!, 'apply-4', ['--no-restart']);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(installed()).toEqual(bytes['4.0.0']);
  });
});
