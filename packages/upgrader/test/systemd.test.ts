// The systemd path for real: inside a container booted by systemd-nspawn (the only safe way to
// run a systemd here, see packages/testkit/src/nspawn.ts), an ollama.service with Restart=always
// runs the fake `ollama serve`; the real CLI, run inside the container, upgrades it.
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bootContainer,
  freePort,
  layOutOllamaInstall,
  makeOllamaRelease,
  nspawnUnavailable,
  TestKit,
  versionAt,
  waitFor,
  type Container,
  type OllamaInstall,
  type OllamaRelease,
} from '@llm-upgrade/testkit';
import { CLI, ensureBuilt, REPO } from './helpers.js';
import { runProcess } from '@llm-upgrade/testkit';

const unavailable = nspawnUnavailable();
if (unavailable) console.warn(`systemd.test.ts skipped: ${unavailable}`);

const kit = new TestKit();
const INSIDE = '/srv/llmu-systemd';
const UNIT = 'ollama.service';

const sha256 = async (file: string) =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex');

describe.skipIf(unavailable !== null)('systemd unit upgraded inside systemd-nspawn', () => {
  let c: Container;
  let cannotBoot: string | null = null;
  let host: string;
  let port: number;
  let v1: OllamaRelease;
  let v2: OllamaRelease;
  let install: OllamaInstall;
  const hashes: Record<string, string> = {};
  /** The install as install.sh lays it out, seen from inside the container. */
  const prefix = `${INSIDE}/usr/local`;
  const scope = ['--install-dir', `${prefix}/bin/ollama`, '--install-dir', `${prefix}/lib/ollama`, '--profile', 'ollama'];
  /** apply of a release's base + rocm archives with its sha256sum.txt, as a user would from a download. */
  const applyArgs = (version: string) => {
    const rel = `${INSIDE}/release-${version}`;
    return [
      'apply',
      `${rel}/ollama-linux-amd64.tar.zst`,
      `${rel}/ollama-linux-amd64-rocm.tar.zst`,
      '--checksums',
      `${rel}/sha256sum.txt`,
      ...scope,
    ];
  };

  const cli = (args: string[]) => c.exec(['/usr/bin/node', CLI, ...args, '--json'], { env: { NO_COLOR: '1' }, timeoutMs: 240_000 });
  const mainPid = async () => Number((await c.exec(['systemctl', 'show', '-p', 'MainPID', '--value', UNIT])).stdout.trim());
  const exeHash = async (pid: number) => (await c.sh(`sha256sum < /proc/${pid}/exe`)).stdout.slice(0, 64);
  let systemdHash = '';
  /**
   * `pid sha256-of-exe` per start of the unit's main process, from its ExecStartPost. For
   * Type=simple that runs right after systemd's fork, so it retries until the exec; a process
   * that exited before it could be read names no version and is dropped.
   */
  const starts = async () =>
    (await readFile(join(host, 'starts.log'), 'utf8').catch(() => ''))
      .split('\n')
      .filter(Boolean)
      .map((l) => ({ pid: Number(l.split(' ')[0]), hash: l.split(' ')[1] ?? '' }))
      .filter((s) => s.hash.length === 64 && s.hash !== systemdHash);
  const versionOf = (hash: string) => Object.entries(hashes).find(([, h]) => h === hash)?.[0] ?? `unknown (${hash.slice(0, 12)})`;

  beforeAll(async () => {
    ensureBuilt();
    host = await kit.makeTempDir('llmu-systemd-');
    port = await freePort();
    v1 = await makeOllamaRelease(kit, { version: '1.0.0', outDir: join(host, 'release-1.0.0') });
    v2 = await makeOllamaRelease(kit, { version: '2.0.0', outDir: join(host, 'release-2.0.0') });
    hashes['1.0.0'] = await sha256(join(v1.baseTree, 'bin/ollama'));
    hashes['2.0.0'] = await sha256(join(v2.baseTree, 'bin/ollama'));
    // A 2.0.1 whose server dies after a second (a shell script, so its main process's exe is
    // the shell): the health gate must fail and the unit must run 2.0.0 again.
    await makeOllamaRelease(kit, {
      version: '2.0.1',
      outDir: join(host, 'release-2.0.1'),
      extraFiles: {
        'bin/ollama': '#!/bin/sh\nif [ "$1" = --version ]; then echo "ollama version is 2.0.1"; exit 0; fi\nsleep 1\nexit 3\n',
      },
    });
    systemdHash = await sha256('/usr/lib/systemd/systemd');
    hashes['2.0.1'] = await sha256((await runProcess('readlink', ['-f', '/bin/sh'])).stdout.trim());
    install = await layOutOllamaInstall(kit, v1, { prefix: join(host, 'usr/local'), addOns: [v1.rocm] });

    try {
      c = await bootContainer({
        binds: [
          { host, container: INSIDE },
          { host: REPO, readOnly: true },
        ],
      });
    } catch (e) {
      // systemd-nspawn is here but cannot boot a container on this machine (no cgroup delegation, a sandbox).
      cannotBoot = `systemd-nspawn cannot boot here: ${(e as Error).message.split('\n')[0]}`;
      console.warn(`systemd.test.ts skipped: ${cannotBoot}`);
      return;
    }
    expect((await c.exec(['/usr/bin/node', '--version'])).stdout).toMatch(/^v\d+/);
    const unit = [
      '[Unit]',
      'Description=fake Ollama (llm-upgrade systemd test)',
      'StartLimitIntervalSec=0',
      '[Service]',
      `ExecStart=${prefix}/bin/ollama serve`,
      // Retried until the main process has exec'd (its exe is no longer systemd's) or has gone:
      // one read right after the fork could miss a start altogether.
      `ExecStartPost=/bin/sh -c 'for i in $$(seq 100); do h=$$(sha256sum < /proc/$$MAINPID/exe 2>/dev/null | cut -c1-64); [ -n "$$h" ] && [ "$$h" != ${systemdHash} ] && break; [ -e /proc/$$MAINPID ] || break; sleep 0.02; done; echo "$$MAINPID $$h" >> ${INSIDE}/starts.log'`,
      `Environment=OLLAMA_HOST=127.0.0.1:${port}`,
      'Restart=always',
      'RestartSec=200ms',
      '',
    ].join('\n');
    await writeFile(join(host, UNIT), unit);
    const up = await c.sh(`cp ${INSIDE}/${UNIT} /etc/systemd/system/${UNIT} && systemctl daemon-reload && systemctl start ${UNIT}`);
    expect(up.code, up.stderr).toBe(0);
    await waitFor(async () => (await versionAt(port)) === '1.0.0', { timeoutMs: 30_000, what: 'the unit answering 1.0.0' });
  }, 600_000);

  afterAll(async () => {
    await c?.stop();
    await kit.cleanup();
  }, 120_000);

  it('runs the unit: v1 answers on OLLAMA_HOST, its main process is the v1 binary', async ({ skip }) => {
    if (cannotBoot) skip(cannotBoot);
    for (let i = 0; i < 100 && (await versionAt(port)) !== '1.0.0'; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await versionAt(port)).toBe('1.0.0');
    expect(versionOf(await exeHash(await mainPid()))).toBe('1.0.0');
  });

  it("upgrades: systemctl stop first (no respawn of v1), swap, systemctl start, health from the unit's new process", async ({ skip }) => {
    if (cannotBoot) skip(cannotBoot);
    const before = await mainPid();
    const startsBefore = (await starts()).length;
    const other = await sha256(install.othertool);
    const r = await cli(applyArgs('2.0.0'));
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ ok: true, from: '1.0.0', to: '2.0.0', restarted: 'service', healthy: true });
    const after = await mainPid();
    expect(after).toBeGreaterThan(0);
    expect(after).not.toBe(before);
    expect(versionOf(await exeHash(after))).toBe('2.0.0');
    expect((await c.exec(['systemctl', 'is-active', UNIT])).stdout.trim()).toBe('active');
    expect(await versionAt(port)).toBe('2.0.0');
    const during = (await starts()).slice(startsBefore);
    // Every start since the upgrade began ran v2: Restart=always never brought v1 back.
    expect(during.map((s) => versionOf(s.hash))).toEqual(['2.0.0']);
    expect(during[0]!.pid).toBe(after);
    // The add-on came along, and the other program in bin/ was not touched.
    for (const f of v2.rocmFiles) expect(await sha256(join(install.prefix, f))).toBe(await sha256(join(v2.rocmTree, f)));
    expect(await sha256(install.othertool)).toBe(other);
  });

  it('a new version that does not come up is rolled back and the unit runs the old one again', async ({ skip }) => {
    if (cannotBoot) skip(cannotBoot);
    const startsBefore = (await starts()).length;
    const r = await cli([...applyArgs('2.0.1'), '--timeout', '20s']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(4);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'ERR_HEALTH', changed: true });
    expect((await c.exec(['systemctl', 'is-active', UNIT])).stdout.trim()).toBe('active');
    const pid = await mainPid();
    expect(versionOf(await exeHash(pid))).toBe('2.0.0');
    expect(await versionAt(port)).toBe('2.0.0');
    const during = (await starts()).slice(startsBefore).map((s) => versionOf(s.hash));
    // The broken version started (maybe several times, Restart=always) and then only 2.0.0 again.
    expect(during.length).toBeGreaterThanOrEqual(2);
    expect(during.at(-1)).toBe('2.0.0');
    expect(
      during.slice(0, -1).every((v) => v === '2.0.1'),
      during.join(', '),
    ).toBe(true);
  });

  it('killed mid-swap: the unit stays stopped (no respawn of a half-swapped install); recover rolls back and starts it on the old version', async ({
    skip,
  }) => {
    if (cannotBoot) skip(cannotBoot);
    const startsBefore = (await starts()).length;
    const crashed = await c.exec(['/usr/bin/node', CLI, ...applyArgs('2.0.1'), '--json'], {
      env: { NO_COLOR: '1', LLM_UPGRADE_TEST_CRASH_AT_STEP: '4' },
      timeoutMs: 240_000,
    });
    expect(crashed.code, crashed.stderr).not.toBe(0);
    expect((await c.exec(['systemctl', 'is-active', UNIT])).stdout.trim()).toBe('inactive');
    expect(await versionAt(port)).toBeNull();
    const r = await cli(['recover', ...scope]);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ action: 'rolled-back' });
    expect((await c.exec(['systemctl', 'is-active', UNIT])).stdout.trim()).toBe('active');
    expect(versionOf(await exeHash(await mainPid()))).toBe('2.0.0');
    await waitFor(async () => (await versionAt(port)) === '2.0.0', { timeoutMs: 30_000, what: 'the unit answering 2.0.0 after recover' });
    // Nothing started between the crash and recover; recover started 2.0.0 once.
    expect((await starts()).slice(startsBefore).map((s) => versionOf(s.hash))).toEqual(['2.0.0']);
  });

  it('a unit waiting between two Restart=always starts (no process at that instant) is stopped through systemd and started on the new files', async ({
    skip,
  }) => {
    if (cannotBoot) skip(cannotBoot);
    // Slow the restart down, then kill the main process: the unit sits in auto-restart, with no process.
    const slow = await c.sh(
      `mkdir -p /etc/systemd/system/${UNIT}.d && printf '[Service]\\nRestartSec=120s\\n' > /etc/systemd/system/${UNIT}.d/slow.conf && systemctl daemon-reload && systemctl kill -s SIGKILL ${UNIT}`,
    );
    expect(slow.code, slow.stderr).toBe(0);
    await waitFor(async () => (await c.exec(['systemctl', 'show', '-p', 'SubState', '--value', UNIT])).stdout.trim() === 'auto-restart', {
      timeoutMs: 30_000,
      what: 'the unit waiting to restart',
    });
    expect(await mainPid()).toBe(0);
    const startsBefore = (await starts()).length;
    const r = await cli([...applyArgs('1.0.0'), '--allow-downgrade']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, to: '1.0.0', restarted: 'service' });
    // Without the stop, systemd would start it on its own two minutes later; here it runs now, on 1.0.0.
    expect((await c.exec(['systemctl', 'show', '-p', 'SubState', '--value', UNIT])).stdout.trim()).toBe('running');
    expect(versionOf(await exeHash(await mainPid()))).toBe('1.0.0');
    await waitFor(async () => (await versionAt(port)) === '1.0.0', { timeoutMs: 30_000, what: 'the unit answering 1.0.0' });
    expect((await starts()).slice(startsBefore).map((s) => versionOf(s.hash))).toEqual(['1.0.0']);
  });
});
