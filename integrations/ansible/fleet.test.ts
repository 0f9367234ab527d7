// The llm_upgrade.fleet collection driven by real ansible-core (Debian's) against several local
// hosts (ansible_connection=local): each host is its own temp install of the testkit's fake
// runner, installed by `llm-upgrade apply` from packages `llm-upgrade pack` built, with a
// server running from it. The modules call the real CLI (packages/upgrader/bin/llm-upgrade.js
// through a two-line wrapper script the rollout role distributes to every host).
// The tests share the hosts and run in order, like an admin's session: inventory (which also
// distributes the upgrader) → --check → rollout → rollout again → a held file stops the
// rollout. The sanity and build tests stand alone.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestKit, compileFakeRunner, freePort, isAlive, runProcess, versionAt, waitFor, type SpawnedTree } from '@llm-upgrade/testkit';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const COLLECTIONS = join(REPO, 'integrations/ansible');
const COLLECTION = join(COLLECTIONS, 'ansible_collections/llm_upgrade/fleet');
const CLI_SHIM = join(REPO, 'packages/upgrader/bin/llm-upgrade.js');

/** Why the project cannot run here, or null. Installs ansible-core from Debian when it is missing and we are root. */
function ansibleSkipReason(): string | null {
  const have = () => spawnSync('ansible-playbook', ['--version'], { stdio: 'ignore' }).status === 0;
  if (have()) return null;
  if (process.getuid?.() !== 0) return 'ansible-playbook is missing and we are not root to `apt-get install ansible-core`';
  if (spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status !== 0)
    return 'ansible-playbook is missing and there is no apt-get to install ansible-core';
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () =>
    spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'ansible-core'], { stdio: 'inherit', env }).status === 0;
  if (!install()) {
    spawnSync('apt-get', ['update'], { stdio: 'inherit', env });
    install();
  }
  return have() ? null : 'ansible-playbook is missing and `apt-get install ansible-core` did not provide it';
}

const skipReason = ansibleSkipReason();
if (skipReason) console.warn(`[ansible] the whole project is skipped: ${skipReason}`);

/** The integration tests drive the built CLI; build core and the upgrader if dist is missing. */
function ensureBuilt(): void {
  if (existsSync(join(REPO, 'packages/upgrader/dist/cli/main.js')) && existsSync(join(REPO, 'packages/core/dist/index.js'))) return;
  execFileSync('npx', ['tsc', '-p', 'packages/core/tsconfig.build.json'], { cwd: REPO, stdio: 'inherit' });
  execFileSync('npx', ['tsc', '-p', 'packages/upgrader/tsconfig.build.json'], { cwd: REPO, stdio: 'inherit' });
}

// A callback plugin that writes every task result as one JSON line: the test reads outcomes
// from it instead of parsing the human output (and needs nothing beyond ansible-core).
const RESULTS_CALLBACK = `
from __future__ import absolute_import, division, print_function
__metaclass__ = type
import json, os
from ansible.plugins.callback import CallbackBase

class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'fleet_test_results'
    CALLBACK_NEEDS_ENABLED = True

    def _write(self, status, result):
        line = dict(status=status, host=result._host.get_name(), task=result._task.get_name(), action=result._task.action, result=result._result)
        with open(os.environ['FLEET_TEST_RESULTS'], 'a') as f:
            f.write(json.dumps(line, default=str) + '\\n')

    def v2_runner_on_ok(self, result):
        self._write('ok', result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._write('failed', result)

    def v2_runner_on_skipped(self, result):
        self._write('skipped', result)

    def v2_runner_on_unreachable(self, result):
        self._write('unreachable', result)
`;

interface TaskResult {
  status: 'ok' | 'failed' | 'skipped' | 'unreachable';
  host: string;
  task: string;
  action: string;
  result: Record<string, any>;
}

interface AnsibleRun {
  code: number | null;
  stdout: string;
  stderr: string;
  results: TaskResult[];
  /** PLAY RECAP counters per host. */
  recap: Record<string, Record<string, number>>;
}

interface Host {
  name: string;
  base: string;
  root: string;
  port: number;
  profile: string;
  upgrader: string;
  healthUrl: string;
  server: SpawnedTree;
}

const VERSIONS = ['1.0.0', '2.0.0', '3.0.0'] as const;

describe.skipIf(skipReason !== null)('llm_upgrade.fleet on local hosts', () => {
  const kit = new TestKit();
  let work = '';
  let wrapper = '';
  let inventory = '';
  const packages: Record<string, string> = {};
  const hosts: Host[] = [];
  let env: NodeJS.ProcessEnv = {};
  const foreign: number[] = [];

  async function cli(args: string[]): Promise<any> {
    const r = await runProcess(wrapper, [...args, '--json'], { env: { ...process.env, NO_COLOR: '1' } });
    if (r.code !== 0) throw new Error(`llm-upgrade ${args.join(' ')} exited ${r.code}: ${r.stdout}${r.stderr}`);
    return JSON.parse(r.stdout);
  }

  async function installedVersion(h: Host): Promise<string> {
    return (JSON.parse(await readFile(join(h.root, '.llm-upgrade', 'installed.json'), 'utf8')) as { version: string }).version;
  }

  function parseRecap(stdout: string): Record<string, Record<string, number>> {
    const recap: Record<string, Record<string, number>> = {};
    const at = stdout.lastIndexOf('PLAY RECAP');
    if (at < 0) return recap;
    for (const line of stdout.slice(at).split('\n').slice(1)) {
      const m = /^(\S+)\s+:\s+(.*)$/.exec(line.trim());
      if (!m) continue;
      recap[m[1]!] = Object.fromEntries([...m[2]!.matchAll(/(\w+)=(\d+)/g)].map((x) => [x[1]!, Number(x[2])]));
    }
    return recap;
  }

  async function ansible(cmd: 'ansible-playbook' | 'ansible', args: string[]): Promise<AnsibleRun> {
    const resultsFile = join(work, 'results.jsonl');
    await rm(resultsFile, { force: true });
    const r = await runProcess(cmd, args, { cwd: work, env, timeoutMs: 300_000 });
    const text = existsSync(resultsFile) ? readFileSync(resultsFile, 'utf8') : '';
    const results = text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as TaskResult);
    return { code: r.code, stdout: r.stdout, stderr: r.stderr, results, recap: parseRecap(r.stdout) };
  }

  const playbook = (name: string, extra: string[] = []) => ansible('ansible-playbook', ['-i', inventory, join(work, name), ...extra]);
  const upgradeResults = (run: AnsibleRun) => run.results.filter((t) => t.action === 'llm_upgrade.fleet.upgrade');
  const explain = (run: AnsibleRun) => `exit ${run.code}\n${run.stdout.slice(-6000)}\n${run.stderr.slice(-3000)}`;

  async function makePackage(version: string): Promise<string> {
    const payload = join(work, `payload-${version}`);
    await compileFakeRunner({ version, outDir: join(payload, 'bin'), name: 'ollama' });
    await compileFakeRunner({ version, outDir: join(payload, 'lib', 'ollama'), name: 'llama-server' });
    await writeFile(join(payload, 'lib', 'ollama', 'libggml-base.so'), Buffer.alloc(64 * 1024, 7));
    const out = join(work, `ollama-${version}-linux-x64.tar.gz`);
    await cli(['pack', payload, '--name', 'ollama', '--version', version, '--smoke', 'bin/ollama --version', '--out', out]);
    return out;
  }

  async function makeHost(name: string): Promise<Host> {
    const base = join(work, 'hosts', name);
    const root = join(base, 'install');
    await mkdir(base, { recursive: true });
    const port = await freePort();
    const healthUrl = `http://127.0.0.1:${port}/api/version`;
    const profile = join(base, 'profile.json');
    await writeFile(
      profile,
      JSON.stringify(
        {
          name: `fleet-${name}`,
          processes: { supervisor: [], server: ['ollama'], engine: ['llama-server'] },
          versionCommand: ['bin/ollama', '--version'],
          startCommand: ['bin/ollama', 'serve', '--port', String(port), '--engines', '1'],
          healthUrl,
        },
        null,
        2,
      ),
    );
    await cli(['apply', packages['1.0.0']!, '--install-dir', root, '--profile', profile, '--yes']);
    const server = await kit.spawnTree(join(root, 'bin', 'ollama'), ['serve', '--port', String(port), '--engines', '1']);
    return { name, base, root, port, profile, upgrader: join(base, 'bin', 'llm-upgrade'), healthUrl, server };
  }

  /** The pid serving a host's port right now (the upgrader restarts the server under a new pid). */
  async function serverPid(h: Host): Promise<number | null> {
    const s = await cli(['status', '--install-dir', h.root, '--profile', h.profile]);
    const server = (s.processes as Array<{ pid: number; role: string }>).find((p) => p.role === 'server');
    return server?.pid ?? null;
  }

  beforeAll(async () => {
    ensureBuilt();
    work = await kit.makeTempDir('llm-upgrade-fleet-');
    for (const d of ['home', 'ansible-local', 'ansible-remote', 'callbacks', 'controller']) await mkdir(join(work, d), { recursive: true });
    // The "compiled upgrader" the role distributes: a wrapper that runs the built CLI with this Node.
    wrapper = join(work, 'controller', 'llm-upgrade');
    await writeFile(wrapper, `#!/bin/sh\nexec '${process.execPath}' '${CLI_SHIM}' "$@"\n`);
    await chmod(wrapper, 0o755);
    await writeFile(join(work, 'callbacks', 'fleet_test_results.py'), RESULTS_CALLBACK);
    for (const v of VERSIONS) packages[v] = await makePackage(v);
    for (const name of ['host1', 'host2', 'host3']) hosts.push(await makeHost(name));

    inventory = join(work, 'inventory.yml');
    const hostVars = Object.fromEntries(
      hosts.map((h) => [
        h.name,
        {
          ansible_connection: 'local',
          llm_upgrade_install_dir: [h.root],
          llm_upgrade_profile: h.profile,
          llm_upgrade_upgrader_path: h.upgrader,
          llm_upgrade_health_url: h.healthUrl,
        },
      ]),
    );
    // YAML is a superset of JSON: the yaml inventory plugin reads this.
    await writeFile(
      inventory,
      JSON.stringify(
        {
          all: {
            children: {
              fleet: {
                hosts: hostVars,
                vars: {
                  ansible_python_interpreter: '/usr/bin/python3',
                  llm_upgrade_upgrader_src: wrapper,
                  llm_upgrade_grace: '2s',
                  llm_upgrade_timeout: '20s',
                },
              },
            },
          },
        },
        null,
        2,
      ),
    );
    await writeFile(
      join(work, 'rollout.yml'),
      [
        '- name: Roll llm-upgrade out, one host at a time, stop at the first failure',
        '  hosts: fleet',
        '  gather_facts: false',
        '  serial: 1',
        '  max_fail_percentage: 0',
        '  roles:',
        '    - role: llm_upgrade.fleet.rollout',
        '',
      ].join('\n'),
    );
    await writeFile(
      join(work, 'inventory-play.yml'),
      [
        '- name: Per-host inventory before anything is touched',
        '  hosts: fleet',
        '  gather_facts: false',
        '  tasks:',
        "    - name: Create the upgrader's directory",
        '      ansible.builtin.file:',
        '        path: "{{ llm_upgrade_upgrader_path | dirname }}"',
        '        state: directory',
        '        mode: "0755"',
        '    - name: Distribute the upgrader',
        '      ansible.builtin.copy:',
        '        src: "{{ llm_upgrade_upgrader_src }}"',
        '        dest: "{{ llm_upgrade_upgrader_path }}"',
        '        mode: "0755"',
        '    - name: Read the facts',
        '      llm_upgrade.fleet.facts:',
        '        install_dir: "{{ llm_upgrade_install_dir }}"',
        '        profile: "{{ llm_upgrade_profile }}"',
        '        upgrader: "{{ llm_upgrade_upgrader_path }}"',
        '    - name: Show the inventory line',
        '      ansible.builtin.debug:',
        '        msg: "{{ inventory_hostname }} {{ ansible_facts.llm_upgrade.version }} orphans={{ ansible_facts.llm_upgrade.orphans | length }}"',
        '',
      ].join('\n'),
    );
    await writeFile(
      join(work, 'sweep.yml'),
      [
        '- name: End orphaned engines',
        '  hosts: fleet',
        '  gather_facts: false',
        '  tasks:',
        '    - name: Sweep',
        '      llm_upgrade.fleet.sweep:',
        '        install_dir: "{{ llm_upgrade_install_dir }}"',
        '        profile: "{{ llm_upgrade_profile }}"',
        '        upgrader: "{{ llm_upgrade_upgrader_path }}"',
        '        grace: 1s',
        '',
      ].join('\n'),
    );

    env = {
      ...process.env,
      HOME: join(work, 'home'),
      ANSIBLE_CONFIG: join(work, 'ansible.cfg.absent'),
      ANSIBLE_COLLECTIONS_PATH: COLLECTIONS,
      ANSIBLE_LOCAL_TEMP: join(work, 'ansible-local'),
      ANSIBLE_REMOTE_TEMP: join(work, 'ansible-remote'),
      ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3',
      ANSIBLE_HOST_KEY_CHECKING: 'False',
      // One python process per task instead of put-file + chmod + exec + rm.
      ANSIBLE_PIPELINING: 'True',
      ANSIBLE_RETRY_FILES_ENABLED: 'False',
      ANSIBLE_NOCOLOR: '1',
      ANSIBLE_FORCE_COLOR: '0',
      ANSIBLE_CALLBACK_PLUGINS: join(work, 'callbacks'),
      ANSIBLE_CALLBACKS_ENABLED: 'fleet_test_results',
      ANSIBLE_LOAD_CALLBACK_PLUGINS: 'True',
      ANSIBLE_DEPRECATION_WARNINGS: 'False',
      FLEET_TEST_RESULTS: join(work, 'results.jsonl'),
      NO_COLOR: '1',
    };
  });

  afterAll(async () => {
    for (const pid of foreign) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    await kit.cleanup();
  });

  it("facts report each host's version and orphans; sweep lists them in check mode and ends them", async () => {
    const crashed = await kit.spawnTree(join(hosts[1]!.root, 'bin', 'ollama'), ['serve', '--engines', '1', '--crash']);
    await crashed.exited;
    const orphan = crashed.ready!.engines[0]!;
    expect(isAlive(orphan)).toBe(true);

    const inv = await playbook('inventory-play.yml');
    expect(inv.code, explain(inv)).toBe(0);
    const facts = inv.results.filter((t) => t.action === 'llm_upgrade.fleet.facts');
    expect(facts.map((t) => t.host).sort()).toEqual(['host1', 'host2', 'host3']);
    for (const t of facts) {
      const h = hosts.find((x) => x.name === t.host)!;
      const f = t.result.ansible_facts.llm_upgrade;
      expect(t.result.changed).toBe(false);
      expect(t.result.llm_upgrade).toEqual(f);
      expect(f.version).toBe('1.0.0');
      expect(f.roots).toEqual([h.root]);
      expect(f.processes.map((p: any) => p.pid)).toContain(h.server.pid);
      expect(f.orphans.map((p: any) => p.pid)).toEqual(h.name === 'host2' ? [orphan] : []);
      expect(typeof f.complete).toBe('boolean');
      expect(Array.isArray(f.holders) && Array.isArray(f.gpu)).toBe(true);
      // Another llm-upgrade run (the other hosts' tasks run in parallel) may be reading this install's
      // own state file at that instant; nothing else may hold a file of the install.
      expect(f.foreign_holders.filter((x: any) => !String(x.path).startsWith(`${h.root}/.llm-upgrade/`))).toEqual([]);
    }

    const dry = await playbook('sweep.yml', ['--check']);
    expect(dry.code, explain(dry)).toBe(0);
    const drySweeps = Object.fromEntries(dry.results.filter((t) => t.action === 'llm_upgrade.fleet.sweep').map((t) => [t.host, t.result]));
    expect(drySweeps.host2!.changed).toBe(true);
    expect(drySweeps.host2!.orphans.map((p: any) => p.pid)).toEqual([orphan]);
    expect(drySweeps.host2!.stopped).toEqual([]);
    expect(drySweeps.host1!.changed).toBe(false);
    expect(drySweeps.host3!.orphans).toEqual([]);
    expect(isAlive(orphan)).toBe(true);

    const real = await playbook('sweep.yml');
    expect(real.code, explain(real)).toBe(0);
    const sweeps = Object.fromEntries(real.results.filter((t) => t.action === 'llm_upgrade.fleet.sweep').map((t) => [t.host, t.result]));
    expect(sweeps.host2!.changed).toBe(true);
    expect(sweeps.host2!.stopped.map((p: any) => p.pid)).toEqual([orphan]);
    expect(sweeps.host1!.changed).toBe(false);
    expect(sweeps.host3!.changed).toBe(false);
    await waitFor(() => !isAlive(orphan), { what: `orphan ${orphan} gone` });
    // The healthy servers were left alone.
    for (const h of hosts) expect(await versionAt(h.port)).toBe('1.0.0');
  });

  it('--check reports a change and changes nothing', async () => {
    const before = await Promise.all(
      hosts.map(async (h) => ({ pid: await serverPid(h), mtime: (await stat(join(h.root, 'bin', 'ollama'))).mtimeMs })),
    );
    const run = await playbook('rollout.yml', ['--check', '--diff', '-e', `llm_upgrade_package=${packages['2.0.0']}`]);
    expect(run.code, explain(run)).toBe(0);
    const ups = upgradeResults(run);
    expect(ups.map((t) => t.host)).toEqual(['host1', 'host2', 'host3']);
    for (const t of ups) {
      expect(t.status).toBe('ok');
      expect(t.result.changed).toBe(true);
      expect(t.result.dry_run).toBe(true);
      expect(t.result.from).toBe('1.0.0');
      expect(t.result.to).toBe('2.0.0');
      expect(t.result.diff).toEqual({ before: 'version: 1.0.0\n', after: 'version: 2.0.0\n' });
      // The dry run's plan: what a real run would stop.
      expect(t.result.stopped.map((p: any) => p.role)).toContain('server');
      expect(t.result.cmd).toContain('--dry-run');
    }
    // Health and facts checks are skipped in check mode; nothing else failed.
    expect(run.results.filter((t) => t.status === 'failed')).toEqual([]);
    for (const [i, h] of hosts.entries()) {
      expect(await installedVersion(h)).toBe('1.0.0');
      expect(await versionAt(h.port)).toBe('1.0.0');
      expect(await serverPid(h)).toBe(before[i]!.pid);
      expect((await stat(join(h.root, 'bin', 'ollama'))).mtimeMs).toBe(before[i]!.mtime);
    }
  });

  it('check mode on a host that does not have the upgrader yet says so and creates nothing', async () => {
    const absent = join(work, 'not-yet', 'bin', 'llm-upgrade');
    const run = await playbook('rollout.yml', [
      '--check',
      '--limit',
      'host1',
      '-e',
      `llm_upgrade_package=${packages['2.0.0']}`,
      '-e',
      `llm_upgrade_upgrader_path=${absent}`,
    ]);
    expect(run.code, explain(run)).toBe(0);
    // Role task names come as "llm_upgrade.fleet.rollout : NAME".
    const by = Object.fromEntries(run.results.map((t) => [t.task.replace(/^.* : /, ''), t]));
    expect(Object.keys(by), explain(run)).toContain('Distribute the upgrader');
    expect(by['Distribute the upgrader']!.result.changed).toBe(true);
    expect(by['Upgrade the install']!.status).toBe('skipped');
    expect(by['Report that the dry run needs the upgrader on the host first']!.result.msg).toContain(`${absent} is not on the host yet`);
    expect(existsSync(join(work, 'not-yet'))).toBe(false);
    expect(await installedVersion(hosts[0]!)).toBe('1.0.0');
  });

  it('a rollout upgrades each host, one at a time, and its server answers with the new version', async () => {
    const oldPids = await Promise.all(hosts.map((h) => serverPid(h)));
    const run = await playbook('rollout.yml', ['-e', `llm_upgrade_package=${packages['2.0.0']}`]);
    expect(run.code, explain(run)).toBe(0);
    const ups = upgradeResults(run);
    expect(ups.map((t) => t.host)).toEqual(['host1', 'host2', 'host3']);
    for (const [i, t] of ups.entries()) {
      expect(t.status).toBe('ok');
      expect(t.result.changed).toBe(true);
      expect(t.result.noop).toBe(false);
      expect(t.result.from).toBe('1.0.0');
      expect(t.result.to).toBe('2.0.0');
      expect(t.result.rolled_back).toBe(false);
      expect(typeof t.result.downtime_ms).toBe('number');
      expect(t.result.downtime_ms).toBeGreaterThan(0);
      expect(t.result.stopped.map((p: any) => p.pid)).toContain(oldPids[i]);
      expect(t.result.cmd).toContain('--yes');
    }
    // serial: 1 — every task of host1 ran before any task of host2.
    const order = run.results.map((t) => t.host);
    expect(order.lastIndexOf('host1')).toBeLessThan(order.indexOf('host2'));
    expect(order.lastIndexOf('host2')).toBeLessThan(order.indexOf('host3'));
    const health = run.results.filter((t) => t.action === 'ansible.builtin.uri');
    expect(health.map((t) => [t.host, t.status, t.result.json?.version])).toEqual(hosts.map((h) => [h.name, 'ok', '2.0.0']));
    for (const [i, h] of hosts.entries()) {
      expect(await installedVersion(h)).toBe('2.0.0');
      expect(await versionAt(h.port)).toBe('2.0.0');
      expect(isAlive(oldPids[i]!)).toBe(false);
    }
    expect(Object.values(run.recap).map((r) => r.failed)).toEqual([0, 0, 0]);
  });

  it('a second run reports no change', async () => {
    const pids = await Promise.all(hosts.map((h) => serverPid(h)));
    const run = await playbook('rollout.yml', ['-e', `llm_upgrade_package=${packages['2.0.0']}`]);
    expect(run.code, explain(run)).toBe(0);
    for (const t of upgradeResults(run)) {
      expect(t.result.changed).toBe(false);
      expect(t.result.noop).toBe(true);
      expect(t.result.from).toBe('2.0.0');
      expect(t.result.to).toBe('2.0.0');
      expect(t.result.stopped).toEqual([]);
    }
    expect(run.results.filter((t) => t.result.changed === true)).toEqual([]);
    expect(Object.keys(run.recap).sort()).toEqual(['host1', 'host2', 'host3']);
    for (const r of Object.values(run.recap)) expect(r.changed).toBe(0);
    for (const [i, h] of hosts.entries()) expect(await serverPid(h)).toBe(pids[i]);
  });

  it('a host where a foreign process holds a file fails; with serial 1 and max_fail_percentage 0 the hosts after it stay untouched', async () => {
    const [h1, h2, h3] = hosts as [Host, Host, Host];
    // A process that is not part of the install (its exe is /usr/bin/tail) holding an fd on a file under it.
    const held = join(h2.root, 'lib', 'ollama', 'libggml-base.so');
    const tail = spawn('/usr/bin/tail', ['-f', held], { stdio: 'ignore' });
    foreign.push(tail.pid!);
    kit.track(tail.pid!);
    await waitFor(
      () => {
        try {
          return execFileSync('ls', ['-l', `/proc/${tail.pid}/fd`], { encoding: 'utf8' }).includes(held);
        } catch {
          return false;
        }
      },
      { what: 'tail holds the file' },
    );
    const h3Pid = await serverPid(h3);
    try {
      const run = await playbook('rollout.yml', ['-e', `llm_upgrade_package=${packages['3.0.0']}`]);
      expect(run.code, explain(run)).not.toBe(0);
      const ups = upgradeResults(run);
      expect(ups.map((t) => [t.host, t.status])).toEqual([
        ['host1', 'ok'],
        ['host2', 'failed'],
      ]);
      const failed = ups[1]!.result;
      console.info(`[ansible] host2 failed as expected: ${failed.msg} (rc ${failed.rc}, phase ${failed.phase}, changed ${failed.changed})`);
      expect(failed.error_code).toBe('ERR_FILES_HELD');
      expect(failed.rc).toBe(3);
      expect(failed.msg).toMatch(/^ERR_FILES_HELD: /);
      expect(failed.msg).toContain('tail');
      expect(failed.hint).toEqual(expect.any(String));
      expect(failed.msg).toContain(`(hint: ${failed.hint})`);
      // host3: no task ran at all, its install and server are as they were.
      expect(run.results.filter((t) => t.host === 'host3')).toEqual([]);
      expect(run.stdout).toContain('NO MORE HOSTS LEFT');
      expect(Object.keys(run.recap).sort()).toEqual(['host1', 'host2']);
      expect(run.recap.host2!.failed).toBe(1);
      expect(await installedVersion(h1)).toBe('3.0.0');
      expect(await versionAt(h1.port)).toBe('3.0.0');
      expect(await installedVersion(h2)).toBe('2.0.0');
      await waitFor(async () => (await versionAt(h2.port)) === '2.0.0', { what: 'host2 serves 2.0.0 again', timeoutMs: 20_000 });
      expect(await installedVersion(h3)).toBe('2.0.0');
      expect(await versionAt(h3.port)).toBe('2.0.0');
      expect(await serverPid(h3)).toBe(h3Pid);
      expect(existsSync(h3.upgrader)).toBe(true);
    } finally {
      tail.kill('SIGKILL');
    }
  });

  it('module sanity: argument-spec errors are clear, upgrader errors carry code, message and hint', async () => {
    const h = hosts[2]!;
    // One playbook (ansible's start-up dominates on a loaded machine), every task ignore_errors.
    const task = (name: string, module: string, args: Record<string, unknown>, extra: string[] = []) => [
      `    - name: ${name}`,
      `      ${module}:`,
      ...Object.entries(args).map(([k, v]) => `        ${k}: ${JSON.stringify(v)}`),
      '      ignore_errors: true',
      ...extra.map((l) => `      ${l}`),
    ];
    // The controller's copy: this test does not depend on an earlier rollout having distributed it.
    const scope = { install_dir: h.root, profile: h.profile, upgrader: wrapper };
    const corrupt = join(work, 'corrupt.tar.gz');
    await writeFile(corrupt, Buffer.from('this is not a gzip archive\n'.repeat(40)));
    const before = await installedVersion(h);
    await writeFile(
      join(work, 'sanity.yml'),
      [
        '- name: Module sanity',
        '  hosts: host3',
        '  gather_facts: false',
        '  tasks:',
        ...task('both', 'llm_upgrade.fleet.upgrade', { ...scope, package: packages['3.0.0'], feed: 'https://example.invalid/feed.json' }),
        ...task('neither', 'llm_upgrade.fleet.upgrade', scope),
        ...task('no scope', 'llm_upgrade.fleet.upgrade', { package: packages['3.0.0'] }),
        ...task('bad bool', 'llm_upgrade.fleet.upgrade', { ...scope, package: packages['3.0.0'], allow_downgrade: 'maybe' }),
        ...task('unknown option', 'llm_upgrade.fleet.sweep', { ...scope, colour: 'blue' }),
        ...task('bad duration', 'llm_upgrade.fleet.upgrade', { ...scope, package: packages['3.0.0'], timeout: 'soon' }),
        ...task('missing upgrader', 'llm_upgrade.fleet.facts', { install_dir: h.root, upgrader: join(work, 'nowhere', 'llm-upgrade') }),
        ...task('corrupt package', 'llm_upgrade.fleet.upgrade', { ...scope, package: corrupt }),
        ...task('dry run', 'llm_upgrade.fleet.upgrade', { ...scope, package: packages['3.0.0'] }, ['check_mode: true']),
        '',
      ].join('\n'),
    );
    const run = await playbook('sanity.yml');
    const by = Object.fromEntries(run.results.map((t) => [t.task, t]));
    expect(Object.keys(by).sort(), explain(run)).toEqual([
      'bad bool',
      'bad duration',
      'both',
      'corrupt package',
      'dry run',
      'missing upgrader',
      'neither',
      'no scope',
      'unknown option',
    ]);

    expect(by.both!.status).toBe('failed');
    expect(by.both!.result.msg).toBe('parameters are mutually exclusive: package|feed');
    expect(by.neither!.result.msg).toBe('one of the following is required: package, feed');
    expect(by['no scope']!.result.msg).toBe('one of the following is required: install_dir, profile');
    expect(by['bad bool']!.result.msg).toMatch(/allow_downgrade.*bool/);
    expect(by['unknown option']!.result.msg).toMatch(/Unsupported parameters .*colour/);
    expect(by['bad duration']!.result.msg).toMatch(/^timeout must be a duration such as 500ms, 5s or 2m/);
    expect(by['missing upgrader']!.status).toBe('failed');
    expect(by['missing upgrader']!.result.msg).toContain('does not exist on this host');

    // An upgrader refusal is a task failure with its code, message, hint and exit code.
    const bad = by['corrupt package']!;
    expect(bad.status).toBe('failed');
    expect(bad.result.error_code).toBe('ERR_BAD_PACKAGE');
    expect(bad.result.rc).toBe(2);
    expect(bad.result.phase).toEqual(expect.any(String)); // 'verify' or 'fetch', by upgrader version
    expect(bad.result.hint).toEqual(expect.any(String));
    expect(bad.result.msg).toBe(`ERR_BAD_PACKAGE: ${bad.result.error_message} (hint: ${bad.result.hint})`);
    expect(bad.result.error_message).toContain(corrupt);
    expect(bad.result.changed).toBe(false);

    // check_mode on a single task: a dry run with the plan.
    const dry = by['dry run']!;
    expect(dry.status).toBe('ok');
    expect(dry.result.changed).toBe(true);
    expect(dry.result.plan.replace).toContain('bin/ollama');
    expect(await installedVersion(h)).toBe(before);
  });

  it('the collection builds with ansible-galaxy and its module documentation parses', async () => {
    const out = join(work, 'galaxy');
    const build = await runProcess('ansible-galaxy', ['collection', 'build', COLLECTION, '--output-path', out], { env });
    expect(build.code, build.stdout + build.stderr).toBe(0);
    expect(existsSync(join(out, 'llm_upgrade-fleet-1.0.0.tar.gz'))).toBe(true);
    const list = await runProcess('tar', ['-tzf', join(out, 'llm_upgrade-fleet-1.0.0.tar.gz')]);
    expect(list.stdout).toContain('plugins/modules/upgrade.py');
    expect(list.stdout).toContain('roles/rollout/tasks/main.yml');
    expect(list.stdout).not.toContain('__pycache__');
    for (const m of ['upgrade', 'facts', 'sweep']) {
      const doc = await runProcess('ansible-doc', ['--json', `llm_upgrade.fleet.${m}`], { env });
      expect(doc.code, doc.stderr).toBe(0);
      const parsed = JSON.parse(doc.stdout)[`llm_upgrade.fleet.${m}`];
      expect(parsed.doc.module).toBe(m);
      expect(parsed.examples).toContain(`llm_upgrade.fleet.${m}:`);
      expect(parsed.return).toBeTruthy();
    }
    const role = await runProcess('ansible-doc', ['-t', 'role', 'llm_upgrade.fleet.rollout'], { env });
    expect(role.code, role.stderr).toBe(0);
    expect(role.stdout).toContain('llm_upgrade_health_url');
  });

  it('module unit tests: the JSON mapping against a fake upgrader (Python unittest)', async () => {
    const file = join(COLLECTION, 'tests/unit/plugins/modules/test_modules.py');
    const r = await runProcess('/usr/bin/python3', [file, '-v'], { env: { ...env, PYTHONDONTWRITEBYTECODE: '1' } });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const ran = /Ran (\d+) tests?/.exec(r.stderr);
    expect(Number(ran?.[1] ?? 0)).toBeGreaterThanOrEqual(19);
    expect(r.stderr).toMatch(/\nOK\b/);
  });

  const lint = spawnSync('ansible-lint', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!lint) console.warn('[ansible] ansible-lint is not installed: the lint check is skipped');
  it.skipIf(!lint)('ansible-lint is clean', async () => {
    const r = await runProcess('ansible-lint', ['--offline'], { cwd: COLLECTION, env: { ...env, ANSIBLE_COLLECTIONS_PATH: COLLECTIONS } });
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });
});
