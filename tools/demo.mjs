#!/usr/bin/env node
// `npm run demo`: a sample install of a fake LLM runner, running the way real ones break —
// a healthy server whose engine ignores SIGTERM and mmaps the model, plus an engine orphaned by
// a crashed frontend — then the real CLI: status, apply an upgrade package over it, status,
// stop, holders. Everything it starts is killed by pid and its temp dir removed at the end.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// What `npx llm-upgrade` runs inside this repository: the workspace's linked bin.
const cli = join(root, 'node_modules', '.bin', 'llm-upgrade');
const bold = (s) => (process.stdout.isTTY && !('NO_COLOR' in process.env) ? `\x1b[1m${s}\x1b[0m` : s);
const title = (s) => console.log(`\n${bold(`━━ ${s}`)}`);

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, NX_DAEMON: 'false' }, ...opts });
  return r.status ?? 1;
}

/** Runs the real CLI the way a person would, showing its output. */
function llmUpgrade(...args) {
  console.log(`$ npx llm-upgrade ${args.join(' ')}`);
  const code = sh(cli, args);
  console.log(`(exit ${code})`);
  return code;
}

title('building the packages');
if (sh('npx', ['nx', 'run-many', '-t', 'build', '--outputStyle=static']) !== 0) process.exit(1);

// testkit is TypeScript consumed by tests; bundle it for this script.
const work = mkdtempSync(join(tmpdir(), 'llm-upgrade-demo-'));
const kitFile = join(work, 'testkit.mjs');
await build({
  entryPoints: [join(root, 'packages/testkit/src/index.ts')],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outfile: kitFile,
  logLevel: 'error',
});
process.env.LLM_UPGRADE_FAKE_RUNNER_C = join(root, 'packages/testkit/fake-runner.c');
const { TestKit, compileFakeRunner, freePort } = await import(pathToFileURL(kitFile).href);
const kit = new TestKit();
// testkit unrefs its children (right for test workers); a script must hold the loop open itself.
const keepAlive = setInterval(() => {}, 1_000);

let exitCode = 0;
try {
  title('a sample install of version 1.0.0, running');
  const inst = await kit.makeSampleInstall({ version: '1.0.0' });
  const port = await freePort();
  const profile = join(inst.base, 'demo-profile.json');
  writeFileSync(
    profile,
    JSON.stringify(
      {
        name: 'demo-ollama',
        processes: { supervisor: [], server: ['ollama'], engine: ['llama-server'] },
        versionCommand: ['bin/ollama', '--version'],
        startCommand: ['bin/ollama', 'serve', '--port', String(port), '--engines', '1', '--', '--model', inst.model],
        healthUrl: `http://127.0.0.1:${port}/api/version`,
      },
      null,
      2,
    ),
  );
  const server = await kit.spawnTree(inst.bin, [
    'serve',
    '--port',
    String(port),
    '--engines',
    '1',
    '--',
    '--model',
    inst.model,
    '--ignore-term',
  ]);
  console.log(
    `server pid ${server.pid} on 127.0.0.1:${port}, engine pid ${server.ready.engines.join(', ')} (ignores SIGTERM, mmaps ${inst.model})`,
  );
  const crashed = await kit.spawnTree(inst.bin, ['serve', '--engines', '1', '--crash', '--', '--model', inst.model]);
  await crashed.exited;
  console.log(`a second frontend (pid ${crashed.pid}) crashed; its engine pid ${crashed.ready.engines.join(', ')} is now an orphan`);

  title('status: the process forest, orphan marked');
  llmUpgrade('status', '--install-dir', inst.root, '--profile', profile);

  title('an upgrade package for 2.0.0');
  const payload = join(inst.base, 'payload-2.0.0');
  mkdirSync(join(payload, 'bin'), { recursive: true });
  mkdirSync(join(payload, 'lib', 'ollama'), { recursive: true });
  await compileFakeRunner({ version: '2.0.0', outDir: join(payload, 'bin'), name: 'ollama' });
  await compileFakeRunner({ version: '2.0.0', outDir: join(payload, 'lib', 'ollama'), name: 'llama-server' });
  copyFileSync(inst.lib, join(payload, 'lib', 'ollama', 'libggml-base.so'));
  const pkg = join(inst.base, 'ollama-2.0.0-linux-x64.tar.gz');
  exitCode ||= llmUpgrade('pack', payload, '--name', 'ollama', '--version', '2.0.0', '--out', pkg);

  title('apply: verify and stage, stop everything (orphan included), swap, restart, health check');
  exitCode ||= llmUpgrade('apply', pkg, '--install-dir', inst.root, '--profile', profile, '--grace', '2s', '--yes');

  title('status after the upgrade: 2.0.0 running, no orphan');
  llmUpgrade('status', '--install-dir', inst.root, '--profile', profile);

  title('stop, then prove nothing holds a file under the install');
  exitCode ||= llmUpgrade('stop', '--install-dir', inst.root, '--profile', profile, '--grace', '1s');
  exitCode ||= llmUpgrade('holders', '--install-dir', inst.root);
} catch (e) {
  console.error(`demo failed: ${e instanceof Error ? e.stack : e}`);
  exitCode = 1;
} finally {
  title('cleaning up everything the demo started');
  await kit.cleanup();
  rmSync(work, { recursive: true, force: true });
  clearInterval(keepAlive);
}
console.log(exitCode === 0 ? '\ndemo finished: upgraded 1.0.0 → 2.0.0 with no process left behind' : `\ndemo failed (exit ${exitCode})`);
process.exit(exitCode);
