// `llm-upgrade apply` of Ollama's own `ollama-windows-amd64.zip` on Windows (under Wine): an
// archive with no llm-upgrade.json, accepted because its SHA-256 matches its line in the
// release's sha256sum.txt (`--checksums`), the version read from the staged `ollama.exe
// --version`. Over a running per-user install with an orphaned engine and another vendor's
// llama-server.exe: stop exactly ours, swap under Windows sharing rules, restart; one flipped
// byte refused with the install untouched; `rollback`; a kill mid-swap finished by `recover`.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { windowsSea } from './artifacts.js';
import { compileRunner, layoutForeignEngine, makePayload, startRunner, zPath } from './fixtures.js';
import { WinePrefix, wineGate } from './harness.js';

const gate = wineGate('apply-ollama-zip.test.ts');
const ASSET = 'ollama-windows-amd64.zip';

interface ApplyJson {
  ok: boolean;
  from?: string | null;
  to?: string;
  action?: string;
  stopped?: Array<{ pid: number; orphan?: boolean }>;
  error?: { code: string; phase?: string; changed?: boolean };
}

/** An Ollama-style release directory: the zip (payload at its root, no manifest) and sha256sum.txt. */
function ollamaWindowsRelease(dir: string, payloadDir: string): { zip: string; sums: string } {
  mkdirSync(dir, { recursive: true });
  const zip = join(dir, ASSET);
  execFileSync('zip', ['-q', '-r', '-X', zip, '.'], { cwd: payloadDir });
  const hex = createHash('sha256').update(readFileSync(zip)).digest('hex');
  const sums = join(dir, 'sha256sum.txt');
  writeFileSync(sums, `${hex}  ./${ASSET}\n`);
  return { zip, sums };
}

describe.runIf(gate.run && existsSync('/usr/bin/zip'))(
  "llm-upgrade apply of Ollama's ollama-windows-amd64.zip with --checksums under Wine",
  () => {
    let wine: WinePrefix | undefined;
    let work: string | undefined;
    let sea: string;
    let root: string;
    const releases: Record<string, { zip: string; sums: string }> = {};
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

    const apply = (version: string, name: string, extra: string[] = [], env: Record<string, string> = {}) => {
      const release = releases[version];
      if (!release) throw new Error(`no release ${version}`);
      return upgrader(
        [
          'apply',
          zPath(release.zip),
          '--checksums',
          zPath(release.sums),
          '--install-dir',
          root,
          '--profile',
          PROFILE,
          '--grace',
          '2s',
          '--timeout',
          '15s',
          '--yes',
          ...extra,
        ],
        name,
        env,
      );
    };

    beforeAll(async () => {
      work = mkdtempSync(join(tmpdir(), 'llm-upgrade-wine-ollama-zip-'));
      sea = zPath((await windowsSea()).exe);
      wine = await WinePrefix.create();
      const localAppData = (await w().mustRun('wine', ['cmd', '/c', 'echo', '%LOCALAPPDATA%'], { name: 'localappdata' })).stdout.trim();
      root = `${localAppData}\\Programs\\Ollama`;
      layoutForeignEngine(w(), compileRunner('9.9.9'));
      w().writeFile('C:\\Other\\models\\other.gguf', Buffer.alloc(8192, 7));
      w().writeFile(
        PROFILE,
        JSON.stringify({
          name: 'ollama-windows',
          processes: { supervisor: [], server: ['ollama'], engine: ['llama-server'] },
          versionCommand: ['ollama.exe', '--version'],
          startCommand: ['ollama.exe', 'serve', '--ready-file', RESTART_READY],
        }),
      );
      for (const version of ['1.0.0', '2.0.0', '3.0.0']) {
        const p = makePayload(join(work, `payload-${version}`), version);
        releases[version] = ollamaWindowsRelease(join(work, `release-${version}`), p.dir);
        bytes[version] = Object.fromEntries(FILES.map((f) => [f, sha(readFileSync(join(p.dir, ...f.split('\\'))))]));
      }
    });

    afterAll(async () => {
      await wine?.dispose();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    it('installs 1.0.0 from the zip into an empty per-user directory, the version read from the staged ollama.exe', async () => {
      mkdirSync(w().toUnix(root), { recursive: true });
      const r = await apply('1.0.0', 'zip-apply-1', ['--no-restart']);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.json?.to).toBe('1.0.0');
      expect(installed()).toEqual(bytes['1.0.0']);
    });

    it('one flipped byte in the zip: exit 2, nothing stopped, the install untouched', async () => {
      const good = releases['2.0.0']!;
      const badDir = join(work!, 'release-bad');
      mkdirSync(badDir, { recursive: true });
      const zip = readFileSync(good.zip);
      const middle = Math.floor(zip.length / 2);
      zip.writeUInt8(zip.readUInt8(middle) ^ 0x01, middle);
      writeFileSync(join(badDir, ASSET), zip);
      const r = await upgrader(
        ['apply', zPath(join(badDir, ASSET)), '--checksums', zPath(good.sums), '--install-dir', root, '--profile', PROFILE, '--yes'],
        'zip-apply-flipped',
      );
      expect(r.code, r.stdout + r.stderr).toBe(2);
      expect(r.json?.ok).toBe(false);
      expect(r.json?.error?.code).toBe('ERR_BAD_CHECKSUM');
      expect(r.json?.error?.changed).toBe(false);
      expect(installed()).toEqual(bytes['1.0.0']);
    });

    it("applies 2.0.0 over a running tree and an orphaned engine: ours stopped, swapped, restarted; the other vendor's engine spared", async () => {
      const orphan = await startRunner(w(), `${root}\\ollama.exe`, ['serve', '--orphan'], 'zip-orphan');
      await w().waitFor(
        'the orphaning frontend to exit',
        () =>
          !w()
            .processesUnder(root)
            .some((p) => p.commandLine.includes('--orphan')),
      );
      const tree = await startRunner(w(), `${root}\\ollama.exe`, ['serve', '--engines', '2', '--ignore-close'], 'zip-tree');
      const foreign = await startRunner(
        w(),
        'C:\\Other\\lib\\llama-server.exe',
        ['--model', 'C:\\Other\\models\\other.gguf'],
        'zip-foreign',
      );
      rmSync(w().toUnix(RESTART_READY), { force: true });
      const r = await apply('2.0.0', 'zip-apply-2');
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.json?.from).toBe('1.0.0');
      expect(r.json?.to).toBe('2.0.0');
      const stopped = r.json?.stopped ?? [];
      const pids = new Set(stopped.map((p) => p.pid));
      for (const pid of [tree.frontend!, ...tree.engines, ...orphan.engines]) expect(pids.has(pid), `pid ${pid} stopped`).toBe(true);
      expect(stopped.find((p) => p.pid === orphan.engines[0])?.orphan).toBe(true);
      expect(pids.has(foreign.engines[0]!)).toBe(false);
      expect(installed()).toEqual(bytes['2.0.0']);
      await w().waitForFile(RESTART_READY, 60_000);
      expect(w().processesUnder('C:\\Other')).toHaveLength(1);
      expect((await w().run(`${root}\\ollama.exe`, ['--version'], { name: 'zip-version-2' })).stdout.trim()).toBe(
        'ollama version is 2.0.0',
      );
    });

    it('`rollback` puts 1.0.0 back, byte for byte', async () => {
      const r = await upgrader(
        ['rollback', '--install-dir', root, '--profile', PROFILE, '--grace', '2s', '--timeout', '15s', '--no-restart', '--yes'],
        'zip-rollback',
      );
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(installed()).toEqual(bytes['1.0.0']);
    });

    it('the upgrader killed mid-swap, then `recover`: all-old or all-new, byte for byte', async () => {
      const crashed = await apply('3.0.0', 'zip-apply-3-crash', ['--no-restart'], { LLM_UPGRADE_TEST_CRASH_AT_STEP: '4' });
      expect(crashed.code, crashed.stdout + crashed.stderr).not.toBe(0);
      const mid = installed();
      expect([JSON.stringify(bytes['1.0.0']), JSON.stringify(bytes['3.0.0'])]).not.toContain(JSON.stringify(mid));
      const r = await upgrader(['recover', '--install-dir', root, '--profile', PROFILE, '--yes'], 'zip-recover');
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const after = installed();
      expect([JSON.stringify(bytes['1.0.0']), JSON.stringify(bytes['3.0.0'])], `mid-swap ${JSON.stringify(mid)}`).toContain(
        JSON.stringify(after),
      );
    });
  },
);
