// The CLI as a new user meets it (issue #15): the report on stdout and the rest on stderr, one
// error line with a hint for every non-zero exit, did-you-mean, durations with units, check
// --exit-code, completion scripts, wording, and the confirmation asked on a real terminal.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile, mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { platformKey } from '@llm-upgrade/core';
import { TestKit, isAlive, runProcess } from '@llm-upgrade/testkit';
import { CLI, ensureBuilt, makeProductDir, runCli, type CliRun } from './helpers.js';

const kit = new TestKit();
afterEach(() => kit.cleanup());
beforeAll(() => ensureBuilt());

const PTY = fileURLToPath(new URL('./run-in-pty.py', import.meta.url));

/** Runs the CLI on a pseudo-terminal, answering its question with `answer` ('-': never answer). */
async function runInPty(args: string[], answer: string): Promise<{ output: string; code: number; asked: boolean }> {
  const r = await runProcess('python3', [PTY, JSON.stringify([process.execPath, CLI, ...args]), answer], {
    env: { ...process.env, NO_COLOR: '1', PTY_TIMEOUT: '60' },
    timeoutMs: 90_000,
  });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { output: string; code: number; asked: boolean };
}

/** Exactly one `error [CODE…]: …` line and one hint on stderr. */
function expectOneError(r: CliRun, code: string): void {
  const lines = r.stderr.split('\n');
  expect(
    lines.filter((l) => l.startsWith('error [')),
    r.stderr,
  ).toHaveLength(1);
  expect(
    lines.filter((l) => l.startsWith(`error [${code}`)),
    r.stderr,
  ).toHaveLength(1);
  expect(
    lines.filter((l) => l.trim().startsWith('hint:')),
    r.stderr,
  ).toHaveLength(1);
}

async function runningServer() {
  const inst = await kit.makeSampleInstall({ version: '1.0.0' });
  const server = await kit.spawnTree(inst.bin, ['serve', '--port', '0', '--engines', '1', '--', '--model', inst.model]);
  return { inst, server: server.pid, engine: server.ready!.engines[0]! };
}

describe('stdout is the report, stderr the rest', () => {
  it('status > file has the report; --json is one document and nothing on stderr', async () => {
    const { inst, server } = await runningServer();
    const r = await runCli(['status', '--install-dir', inst.root]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`install: ${inst.root}`);
    expect(r.stdout).toContain(`${server}  server`);
    expect(r.stderr).not.toContain('install:');
    const j = await runCli(['status', '--install-dir', inst.root, '--json']);
    expect(j.json.ok).toBe(true);
    expect(j.stderr).toBe('');
  });

  it('holders --json has ok, like every other document', async () => {
    const { inst } = await runningServer();
    const r = await runCli(['holders', '--install-dir', inst.root, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ ok: true, clean: false });
  });
});

describe('usage errors: exit 2, one error line, did you mean', () => {
  const cases: [string[], string][] = [
    [['nosuch'], 'unknown command "nosuch"'],
    [['stauts'], 'unknown command "stauts"; did you mean status?'],
    [['help', 'nosuch'], 'no help for "nosuch"'],
    [['help', 'stpo'], 'no help for "stpo"; did you mean stop?'],
    [['stop', '--grce', '5s'], 'unknown option --grce for stop; did you mean --grace?'],
    [['apply', 'x.tar.gz', '--alow-downgrade'], 'unknown option --alow-downgrade for apply; did you mean --allow-downgrade?'],
    [['stop', '--grace', '5'], '--grace 5 needs a unit: 5s, 5ms, 5m'],
    [['stop', '--grace', '10000000m'], '--grace 10000000m is longer than the 1h it allows'],
    [['stop', '--timeout', '25h'], '--timeout 25h is longer than the 24h it allows'],
    [['stop', '--grace'], 'option --grace needs a value'],
    [['completion', 'fsh'], 'no completion for "fsh"; did you mean zsh?'],
  ];
  for (const [argv, message] of cases) {
    it(`${argv.join(' ')}`, async () => {
      const r = await runCli(argv);
      expect(r.code, r.stderr).toBe(2);
      expectOneError(r, 'ERR_USAGE');
      expect(r.stderr).toContain(message);
      expect(r.stderr).not.toMatch(/To specify a positional argument|'--/);
      expect(r.stdout).toBe('');
      const j = await runCli([...argv, '--json']);
      expect(j.code).toBe(2);
      expect(j.json).toEqual({
        ok: false,
        error: expect.objectContaining({ code: 'ERR_USAGE', message: expect.stringContaining(message), hint: expect.any(String) }),
      });
    });
  }
  it('help for a known topic still works', async () => {
    const r = await runCli(['help', 'recover']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/committed[\s\S]*rolls forward[\s\S]*rolls\s+back/);
  });
});

describe('stop exit 3 carries an error', () => {
  it('names the foreign holder in one error line and in the JSON error object', async () => {
    const { inst } = await runningServer();
    const outside = await kit.makeSampleInstall({ version: '1.0.0' });
    const foreign = await kit.spawnTree(outside.engine, ['engine', '--hold', inst.lib]);
    const j = await runCli(['stop', '--install-dir', inst.root, '--grace', '200ms', '--timeout', '1500ms', '--json']);
    expect(j.code, j.stderr).toBe(3);
    expect(j.json.ok).toBe(false);
    expect(j.json.error).toMatchObject({ code: 'ERR_FILES_HELD', phase: 'stop', hint: expect.any(String) });
    expect(j.json.error.message).toContain(`${inst.lib} by `);
    expect(j.json.error.message).toContain(`(pid ${foreign.pid})`);
    const r = await runCli(['stop', '--install-dir', inst.root, '--timeout', '500ms']);
    expect(r.code).toBe(3);
    expectOneError(r, 'ERR_FILES_HELD');
    expect(isAlive(foreign.pid)).toBe(true);
  });

  it('a wait names the process and the deadline', async () => {
    const inst = await kit.makeSampleInstall({ version: '1.0.0' });
    const tree = await kit.spawnTree(inst.bin, ['serve', '--port', '0', '--engines', '1', '--', '--model', inst.model, '--ignore-term']);
    const engine = tree.ready!.engines[0]!;
    const r = await runCli(['stop', '--install-dir', inst.root, '--grace', '2s']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`waiting for .*\\(pid ${engine}\\).* to exit; grace ends in \\d+\\.\\ds`));
    expect(r.stdout).toMatch(/stop: \d process\(es\) ended/);
  });
});

describe('check --exit-code', () => {
  let server: Server;
  let feedUrl = '';
  beforeAll(async () => {
    const feed = JSON.stringify({
      name: 'tool',
      releases: [{ version: '2.0.0', platforms: { [platformKey()]: { url: 'v2.tar.gz', size: 1, sha256: 'a'.repeat(64) } } }],
    });
    server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(feed));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    feedUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/feed.json`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function installedAt(version: string): Promise<string> {
    const root = join(await kit.makeTempDir('llm-upgrade-check-'), 'install');
    await mkdir(join(root, '.llm-upgrade'), { recursive: true });
    await writeFile(join(root, '.llm-upgrade', 'installed.json'), JSON.stringify({ name: 'tool', version, files: [] }));
    return root;
  }

  it('exits 10 when an update is available, 0 when up to date, and 0 without the flag', async () => {
    const old = await installedAt('1.0.0');
    const plain = await runCli(['check', '--feed', feedUrl, '--install-dir', old]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toContain('an update is available');
    const flagged = await runCli(['check', '--feed', feedUrl, '--install-dir', old, '--exit-code', '--json']);
    expect(flagged.code).toBe(10);
    expect(flagged.json).toMatchObject({ updateAvailable: true });
    const current = await runCli(['check', '--feed', feedUrl, '--install-dir', await installedAt('2.0.0'), '--exit-code']);
    expect(current.code, current.stderr).toBe(0);
    expect(current.stdout).toContain('up to date');
  });
});

describe('apply wording', () => {
  it('a text file is not a package; a fresh install reads "nothing installed"; a same-version no-op is no warning', async () => {
    const base = await kit.makeTempDir('llm-upgrade-ux-');
    const text = join(base, 'notes.tar.gz');
    await writeFile(text, 'these are my notes, not a package\n'.repeat(40));
    const root = join(base, 'install');
    const bad = await runCli(['apply', text, '--install-dir', root]);
    expect(bad.code).toBe(2);
    expectOneError(bad, 'ERR_BAD_PACKAGE');
    expect(bad.stderr).toContain('is not a package (expected .tar.gz, .tgz, .zip or a directory)');

    const pkg = join(base, 'tool-1.0.0.tar.gz');
    const src = await makeProductDir(join(base, 'src'), '1.0.0');
    expect((await runCli(['pack', src, '--name', 'tool', '--version', '1.0.0', '--smoke', 'bin/tool --version', '--out', pkg])).code).toBe(
      0,
    );
    const first = await runCli(['apply', pkg, '--install-dir', root, '--verbose']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain(`upgraded ${root}: nothing installed → 1.0.0`);
    // --verbose: events without a line of their own too (the journal's steps).
    expect(first.stderr).toMatch(/^journal seq=\d+ state=/m);
    expect(first.stdout).not.toContain('journal');
    const again = await runCli(['apply', pkg, '--install-dir', root]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('1.0.0 is already installed; nothing to do');
    expect(again.stderr).not.toContain('warning:');
  });
});

describe('completion scripts', () => {
  const which = (cmd: string) => {
    try {
      execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  for (const [shell, check] of [
    ['bash', ['bash', '-n']],
    ['zsh', ['zsh', '-n']],
    ['fish', ['fish', '--no-execute']],
    ['powershell', null],
  ] as const) {
    it(`${shell}: prints a script that completes commands and options${check && which(check[0]) ? ', and the shell parses it' : ''}`, async () => {
      const r = await runCli(['completion', shell]);
      expect(r.code, r.stderr).toBe(0);
      for (const word of ['status', 'rollback', 'completion', '--install-dir', '--grace', '--allow-downgrade', '--exit-code'])
        expect(r.stdout).toContain(word.replace(/^--/, shell === 'fish' ? '' : '--'));
      if (check && which(check[0])) {
        const file = join(await kit.makeTempDir('llm-upgrade-completion-'), `c.${shell}`);
        await writeFile(file, r.stdout);
        execFileSync(check[0], [...check.slice(1), file], { stdio: 'pipe' });
      }
    });
  }
  it('bash: completes a command and an option when sourced', async () => {
    const r = await runCli(['completion', 'bash']);
    const file = join(await kit.makeTempDir('llm-upgrade-completion-'), 'c.bash');
    await writeFile(file, r.stdout);
    const out = execFileSync('bash', [
      '-c',
      `source ${file}; COMP_WORDS=(llm-upgrade rol); COMP_CWORD=1; _llm_upgrade; echo "\${COMPREPLY[*]}"; COMP_WORDS=(llm-upgrade --install-dir /x stop --gr); COMP_CWORD=4; _llm_upgrade; echo "\${COMPREPLY[*]}"`,
    ]).toString();
    expect(out.split('\n').slice(0, 2)).toEqual(['rollback', '--grace']);
  });
});

describe('on a terminal, stop and apply ask first (default no)', () => {
  it('stop: shows the plan; "n" stops nothing (exit 1, ERR_ABORTED), "y" stops', async () => {
    const { inst, server, engine } = await runningServer();
    const no = await runInPty(['stop', '--install-dir', inst.root, '--grace', '1s'], 'n');
    expect(no.asked, no.output).toBe(true);
    expect(no.output).toContain('stop will end 2 process(es):');
    expect(no.output).toContain(`(pid ${server}`);
    expect(no.output).toContain('Proceed? [y/N]');
    expect(no.output).toContain('error [ERR_ABORTED');
    expect(no.output).toContain('aborted: nothing was changed');
    expect(no.code).toBe(1);
    expect(isAlive(server) && isAlive(engine)).toBe(true);

    const yes = await runInPty(['stop', '--install-dir', inst.root, '--grace', '1s'], 'y');
    expect(yes.asked, yes.output).toBe(true);
    expect(yes.code, yes.output).toBe(0);
    expect(yes.output).toMatch(/stop: 2 process\(es\) ended/);
    expect(isAlive(server) || isAlive(engine)).toBe(false);
  });

  it('--yes and --dry-run do not ask; off a terminal nothing asks', async () => {
    const { inst, server } = await runningServer();
    const dry = await runInPty(['stop', '--install-dir', inst.root, '--dry-run'], '-');
    expect(dry.asked, dry.output).toBe(false);
    expect(dry.code).toBe(0);
    expect(isAlive(server)).toBe(true);
    const interrupted = await runInPty(['stop', '--install-dir', inst.root], '\u0003');
    expect(interrupted.asked, interrupted.output).toBe(true);
    expect(interrupted.output).toContain('aborted: nothing was changed');
    expect(interrupted.code).toBe(1);
    expect(isAlive(server)).toBe(true);
    const yes = await runInPty(['sweep', '--install-dir', inst.root, '--yes'], '-');
    expect(yes.asked, yes.output).toBe(false);
    expect(yes.code, yes.output).toBe(0);
  });

  it('apply: shows from → to and what it stops; "n" leaves the install as it was', async () => {
    const base = await kit.makeTempDir('llm-upgrade-ux-');
    const pkg = join(base, 'tool-1.0.0.tar.gz');
    const src = await makeProductDir(join(base, 'src'), '1.0.0');
    expect((await runCli(['pack', src, '--name', 'tool', '--version', '1.0.0', '--smoke', 'bin/tool --version', '--out', pkg])).code).toBe(
      0,
    );
    const root = join(base, 'install');
    const no = await runInPty(['apply', pkg, '--install-dir', root], 'n');
    expect(no.asked, no.output).toBe(true);
    expect(no.output).toContain(`apply will upgrade ${root}: nothing installed → 1.0.0`);
    expect(no.output).toContain('stops nothing');
    expect(no.code).toBe(1);
    expect(no.output).toContain('ERR_ABORTED');
    // Nothing was installed, not even the directory: status calls it a root that does not exist.
    expect(existsSync(root)).toBe(false);
    const status = await runCli(['status', '--install-dir', root, '--json']);
    expect(status.json.error.code).toBe('ERR_NO_SUCH_ROOT');
  });

  it('rollback: shows the versions; "n" keeps the new one, "y" goes back', async () => {
    const base = await kit.makeTempDir('llm-upgrade-ux-');
    const root = join(base, 'install');
    for (const v of ['1.0.0', '2.0.0']) {
      const pkg = join(base, `tool-${v}.tar.gz`);
      const src = await makeProductDir(join(base, `src-${v}`), v);
      expect((await runCli(['pack', src, '--name', 'tool', '--version', v, '--smoke', 'bin/tool --version', '--out', pkg])).code).toBe(0);
      expect((await runCli(['apply', pkg, '--install-dir', root])).code).toBe(0);
    }
    const no = await runInPty(['rollback', '--install-dir', root], 'n');
    expect(no.asked, no.output).toBe(true);
    expect(no.output).toContain(`rollback will restore ${root}: 2.0.0 → 1.0.0`);
    expect(no.code).toBe(1);
    expect((await runCli(['status', '--install-dir', root, '--json'])).json.version).toBe('2.0.0');
    const yes = await runInPty(['rollback', '--install-dir', root], 'y');
    expect(yes.code, yes.output).toBe(0);
    expect(yes.output).toContain(`rolled back ${root}: 2.0.0 → 1.0.0`);
  });
});
