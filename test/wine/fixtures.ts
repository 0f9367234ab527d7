// The Windows fake runner (fixtures/fake-runner.c) compiled with mingw-w64 at test time, cached
// by source hash, and laid out like an Ollama install inside a Wine prefix.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WinePrefix } from './harness.js';

const here = dirname(fileURLToPath(import.meta.url));
export const fixtureSource = join(here, 'fixtures', 'fake-runner.c');

/** Shared between runs and test files: compiled fixtures, npm tarballs, bundles. */
export function cacheDir(...parts: string[]): string {
  const dir = join(process.env.LLM_UPGRADE_CACHE_DIR ?? join(tmpdir(), 'llm-upgrade-cache'), 'wine', ...parts);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** ollama.exe built for `version` (it prints `ollama version is VERSION`). */
export function compileRunner(version: string): string {
  if (!/^[0-9A-Za-z.+-]+$/.test(version)) throw new Error(`unsafe version string: ${version}`);
  const args = ['-O2', '-Wall', '-Wextra', '-Werror', '-municode', `-DRUNNER_VERSION="${version}"`];
  const hash = createHash('sha256').update(readFileSync(fixtureSource)).update(JSON.stringify(args)).digest('hex').slice(0, 16);
  const exe = join(cacheDir('runner'), `fake-runner-${version}-${hash}.exe`);
  if (existsSync(exe)) return exe;
  const partial = `${exe}.${process.pid}.partial`;
  const r = spawnSync('x86_64-w64-mingw32-gcc', [...args, '-o', partial, fixtureSource], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`x86_64-w64-mingw32-gcc failed (${r.status ?? r.signal}): ${r.stderr}`);
  renameSync(partial, exe);
  return exe;
}

export interface InstallLayout {
  /** Windows path of the install root, e.g. C:\App. */
  root: string;
  frontend: string;
  engine: string;
  model: string;
}

/**
 * Lays out ROOT\ollama.exe, ROOT\lib\ollama\llama-server.exe and ROOT\models\tiny.gguf (the
 * engines map it), as an Ollama install has them.
 */
export function layoutInstall(wine: WinePrefix, root: string, runnerExe: string): InstallLayout {
  const layout: InstallLayout = {
    root,
    frontend: `${root}\\ollama.exe`,
    engine: `${root}\\lib\\ollama\\llama-server.exe`,
    model: `${root}\\models\\tiny.gguf`,
  };
  copyInto(wine, runnerExe, layout.frontend);
  copyInto(wine, runnerExe, layout.engine);
  // Several pages, so the mapping is real; content derived from the root so files differ.
  const page = createHash('sha256').update(root).digest();
  wine.writeFile(layout.model, Buffer.concat(Array.from({ length: (4096 * 4) / page.length }, () => page)));
  return layout;
}

/** The same binary under a directory outside the install, named like an engine: must survive every stop. */
export function layoutForeignEngine(wine: WinePrefix, runnerExe: string, windowsPath = 'C:\\Other\\lib\\llama-server.exe'): string {
  copyInto(wine, runnerExe, windowsPath);
  return windowsPath;
}

export function copyInto(wine: WinePrefix, unixSource: string, windowsTarget: string): void {
  const target = wine.toUnix(windowsTarget);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(unixSource, target);
}

export interface RunnerPids {
  /** Windows pids from the ready file. */
  frontend: number | null;
  engines: number[];
}

let readySequence = 0;

/** Parses a ready file: `frontend PID` and `engine PID` lines. */
export function parseReady(text: string): RunnerPids {
  const pids: RunnerPids = { frontend: null, engines: [] };
  for (const line of text.split(/\r?\n/)) {
    const [kind, pid] = line.trim().split(/\s+/);
    if (kind === 'frontend') pids.frontend = Number(pid);
    if (kind === 'engine') pids.engines.push(Number(pid));
  }
  return pids;
}

/**
 * Starts `ollama.exe serve` (or an engine binary) in the prefix and waits for its ready file:
 * when this returns, every engine has the model open and mapped.
 */
export async function startRunner(wine: WinePrefix, program: string, args: string[], name: string): Promise<RunnerPids> {
  const ready = `C:\\ready\\${name}-${++readySequence}.txt`;
  mkdirSync(wine.toUnix('C:\\ready'), { recursive: true });
  wine.start(program, [...args, '--ready-file', ready], { name });
  return parseReady(await wine.waitForFile(ready, 60_000));
}

export interface Scenario {
  /** An engine left running by `serve --orphan` (its frontend has exited). */
  orphan: RunnerPids;
  /** `serve --engines 2 --ignore-close`: only a forced termination ends it. */
  tree: RunnerPids;
  /** The same binary as C:\Other\lib\llama-server.exe, mapping a model outside the install. */
  foreign: RunnerPids;
}

/**
 * The situation the project exists for: an orphaned engine (invisible to `taskkill /T`), a live
 * tree that ignores polite close, and another vendor's same-named engine that must survive.
 */
export async function startScenario(wine: WinePrefix, app: InstallLayout, foreignExe: string): Promise<Scenario> {
  if (!existsSync(wine.toUnix('C:\\Other\\models\\other.gguf'))) wine.writeFile('C:\\Other\\models\\other.gguf', Buffer.alloc(8192, 7));
  const orphan = await startRunner(wine, app.frontend, ['serve', '--orphan'], 'orphan');
  await wine.waitFor(
    'the orphaning frontend to exit',
    () => !wine.processesUnder(app.root).some((p) => p.commandLine.includes('--orphan')),
  );
  const tree = await startRunner(wine, app.frontend, ['serve', '--engines', '2', '--ignore-close'], 'tree');
  const foreign = await startRunner(wine, foreignExe, ['--model', 'C:\\Other\\models\\other.gguf'], 'foreign');
  const running = wine.processesUnder(app.root).length;
  if (running !== 4) throw new Error(`scenario: expected 4 processes under ${app.root}, found ${running}`);
  return { orphan, tree, foreign };
}

/**
 * An app payload as an installer ships it: ollama.exe, lib\ollama\llama-server.exe and
 * models\tiny.gguf, whose bytes name the version so an upgrade is visible in the files.
 */
export function makePayload(dir: string, version: string): { dir: string; modelBytes: Buffer } {
  const runner = compileRunner(version);
  mkdirSync(join(dir, 'lib', 'ollama'), { recursive: true });
  mkdirSync(join(dir, 'models'), { recursive: true });
  copyFileSync(runner, join(dir, 'ollama.exe'));
  copyFileSync(runner, join(dir, 'lib', 'ollama', 'llama-server.exe'));
  const modelBytes = Buffer.from(`model for version ${version}\n`.repeat(1024));
  writeFileSync(join(dir, 'models', 'tiny.gguf'), modelBytes);
  return { dir, modelBytes };
}

/** The install layout of a directory an installer filled (see makePayload). */
export function installedLayout(root: string): InstallLayout {
  return { root, frontend: `${root}\\ollama.exe`, engine: `${root}\\lib\\ollama\\llama-server.exe`, model: `${root}\\models\\tiny.gguf` };
}

/** The JSON lines an upgrader wrote with --log-file, parsed. */
export interface HookLogLine {
  type: string;
  command?: string;
  argv?: string[];
  exitCode?: number;
  result?: { ok?: boolean; stopped?: Array<{ pid: number; name: string; orphan?: boolean; how?: string }>; survivors?: unknown[] };
  [key: string]: unknown;
}

export function parseHookLog(text: string): HookLogLine[] {
  return text
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as HookLogLine);
}

/** Finds files named `name` under the prefix's user and Windows temp dirs (where %TEMP% points). */
export function findTempFiles(wine: WinePrefix, name: string): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number): void => {
    if (depth > 6 || !existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path, depth + 1);
      else if (entry.name.toLowerCase() === name.toLowerCase()) found.push(path);
    }
  };
  walk(wine.toUnix('C:\\users'), 0);
  walk(wine.toUnix('C:\\windows\\temp'), 0);
  return found;
}

/** Every JSON line the hook wrote to its log file (`name`) anywhere under the prefix's temp dirs. */
export function readHookLog(wine: WinePrefix, name: string): HookLogLine[] {
  const files = findTempFiles(wine, name);
  if (files.length === 0) throw new Error(`no ${name} under the prefix's temp dirs`);
  return files.flatMap((f) => parseHookLog(readFileSync(f, 'utf8')));
}

/** A Linux path as Wine sees it through the Z: drive. */
export const zPath = (unixPath: string): string => `Z:${unixPath.replace(/\//g, '\\')}`;
