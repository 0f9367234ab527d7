import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { compileFakeRunner } from './compile.js';
import { descendantsOf, identityOf, isAlive, listPids, readProcLink, selfAndAncestors, signal } from './proc.js';

/** What a fake runner printed once set up: `ready <pid> [port=N] [engines=P,P] [child=P] [zombie=P]`. */
export interface Ready {
  pid: number;
  port?: number;
  engines: number[];
  child?: number;
  zombie?: number;
  line: string;
}

export function parseReadyLine(line: string): Ready | null {
  const m = /^ready (\d+)(.*)$/.exec(line.trim());
  if (!m) return null;
  const ready: Ready = { pid: Number(m[1]), engines: [], line: line.trim() };
  for (const [, key, value] of (m[2] ?? '').matchAll(/ (\w+)=(\S+)/g)) {
    if (key === 'port') ready.port = Number(value);
    if (key === 'engines') ready.engines = (value ?? '').split(',').filter(Boolean).map(Number);
    if (key === 'child') ready.child = Number(value);
    if (key === 'zombie') ready.zombie = Number(value);
  }
  return ready;
}

export interface SpawnTreeOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Wait for the "ready <pid>" line (default true; false for programs that are not the fake runner). */
  waitReady?: boolean;
  /** Default 15 s. */
  readyTimeoutMs?: number;
  uid?: number;
  gid?: number;
}

export interface SpawnedTree {
  pid: number;
  child: ChildProcess;
  /** The parsed ready line of this process (null when waitReady was false). */
  ready: Ready | null;
  /** Everything it (and children sharing its stdout) printed so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves when the spawned process exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface SampleInstall {
  /** The temp dir holding everything below (removed by cleanup). */
  base: string;
  /** The install root: `<base>/install`. */
  root: string;
  /** `<root>/bin/ollama` (the fake runner). */
  bin: string;
  /** `<root>/lib/ollama/llama-server` (the fake runner again; `serve` execs it for engines). */
  engine: string;
  /** `<root>/lib/ollama/libggml-base.so`: a data file under the root to map or hold open. */
  lib: string;
  /** `<base>/models/model.gguf`, outside the root, as real Ollama keeps models. */
  model: string;
  version: string;
}

export interface SampleInstallOptions {
  version: string;
  layout?: 'linux';
  /** Create the install inside this existing directory instead of a new temp dir (it is still cleaned up only if the kit created it). */
  base?: string;
}

interface Tracked {
  pid: number;
  startKey: string;
}

/**
 * Tracks every temp dir and process a test makes; `cleanup()` kills them by pid (identity
 * checked) plus anything whose exe or cwd lies under those temp dirs, then removes the dirs.
 * Linux only (reads /proc). Use one kit per test file, `await kit.cleanup()` in afterEach/afterAll.
 */
export class TestKit {
  private readonly dirs: string[] = [];
  private readonly pids: Tracked[] = [];

  /** A new temp dir (resolved, mode 0755 so other users such as `nobody` can traverse it). */
  async makeTempDir(prefix = 'llm-upgrade-test-'): Promise<string> {
    const dir = await realpath(await mkdtemp(join(tmpdir(), prefix)));
    await chmod(dir, 0o755);
    this.dirs.push(dir);
    return dir;
  }

  /** Track a pid started some other way, so cleanup kills it (if its identity still matches). */
  track(pid: number): void {
    const startKey = identityOf(pid);
    if (startKey && !this.pids.some((t) => t.pid === pid && t.startKey === startKey)) this.pids.push({ pid, startKey });
  }

  compileFakeRunner(opts: { version: string; outDir?: string; name?: string }): Promise<string> {
    return compileFakeRunner(opts);
  }

  /** `<base>/install/{bin/ollama, lib/ollama/llama-server, lib/ollama/libggml-base.so}` and `<base>/models/model.gguf`. */
  async makeSampleInstall(opts: SampleInstallOptions): Promise<SampleInstall> {
    if ((opts.layout ?? 'linux') !== 'linux') throw new Error(`layout ${opts.layout} is not supported`);
    const base = opts.base ?? (await this.makeTempDir('llm-upgrade-install-'));
    const root = join(base, 'install');
    const bin = await compileFakeRunner({ version: opts.version, outDir: join(root, 'bin'), name: 'ollama' });
    const engine = await compileFakeRunner({ version: opts.version, outDir: join(root, 'lib', 'ollama'), name: 'llama-server' });
    const lib = join(root, 'lib', 'ollama', 'libggml-base.so');
    await writeFile(lib, Buffer.alloc(256 * 1024, 7));
    await mkdir(join(base, 'models'), { recursive: true });
    const model = join(base, 'models', 'model.gguf');
    await writeFile(model, Buffer.alloc(1024 * 1024, 1));
    return { base, root, bin, engine, lib, model, version: opts.version };
  }

  /**
   * Starts `exe args` and (by default) waits for its "ready <pid>" line, which the fake runner
   * prints once its engines, mappings and listeners are set up. Tracks the pid and every pid
   * named in the ready line.
   */
  async spawnTree(exe: string, args: string[], opts: SpawnTreeOptions = {}): Promise<SpawnedTree> {
    const child = spawn(exe, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
      ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
    });
    let out = '';
    let err = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, sig) => resolve({ code, signal: sig })),
    );
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    const pid = child.pid as number;
    this.track(pid);
    // Children may keep the pipes open for ever: never let them hold the test process.
    child.unref();
    (child.stdout as unknown as { unref?: () => void })?.unref?.();
    (child.stderr as unknown as { unref?: () => void })?.unref?.();
    const tree: SpawnedTree = { pid, child, ready: null, stdout: () => out, stderr: () => err, exited };
    if (opts.waitReady === false) return tree;
    const timeoutMs = opts.readyTimeoutMs ?? 15_000;
    tree.ready = await new Promise<Ready>((resolve, reject) => {
      const check = () => {
        for (const line of out.split('\n')) {
          const r = parseReadyLine(line);
          if (r && r.pid === pid) return finish(() => resolve(r));
        }
      };
      const onExit = () =>
        setImmediate(() => {
          check();
          finish(() => reject(new Error(`${exe} ${args.join(' ')} exited before it was ready: ${err.trim()}`)));
        });
      const timer = setTimeout(
        () => finish(() => reject(new Error(`${exe} was not ready after ${timeoutMs} ms: ${err.trim()}`))),
        timeoutMs,
      );
      let done = false;
      const finish = (f: () => void) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        child.stdout?.off('data', check);
        child.off('exit', onExit);
        f();
      };
      child.stdout?.on('data', check);
      child.on('exit', onExit);
      check();
    });
    for (const p of [...tree.ready.engines, tree.ready.child ?? 0]) if (p > 0) this.track(p);
    return tree;
  }

  /** Pids to end: tracked ones still alive with the same identity, and anything running from (or in) our temp dirs. */
  private candidates(exclude: ReadonlySet<number>): Map<number, string> {
    const found = new Map<number, string>();
    for (const t of this.pids) if (identityOf(t.pid) === t.startKey) found.set(t.pid, t.startKey);
    if (this.dirs.length > 0) {
      for (const pid of listPids()) {
        const paths = [readProcLink(pid, 'exe'), readProcLink(pid, 'cwd')];
        if (!paths.some((p) => p !== null && this.dirs.some((d) => p === d || p.startsWith(d + sep)))) continue;
        const key = identityOf(pid);
        if (key) found.set(pid, key);
      }
    }
    for (const pid of descendantsOf(found.keys())) {
      const key = identityOf(pid);
      if (key) found.set(pid, key);
    }
    for (const pid of exclude) found.delete(pid);
    return found;
  }

  /**
   * Kills everything this kit started or that runs from its temp dirs (freeze, rescan until
   * nothing new appears, SIGKILL, SIGCONT: fork storms cannot outrun it), then removes the dirs.
   */
  async cleanup(): Promise<void> {
    const self = selfAndAncestors();
    for (let pass = 0; pass < 5; pass++) {
      const frozen = new Map<number, string>();
      try {
        for (let round = 0; round < 50; round++) {
          let added = 0;
          for (const [pid, key] of this.candidates(self)) {
            if (frozen.has(pid) || identityOf(pid) !== key) continue;
            if (signal(pid, 'SIGSTOP')) {
              frozen.set(pid, key);
              added++;
            }
          }
          if (added === 0) break;
        }
        for (const [pid, key] of frozen) if (identityOf(pid) === key) signal(pid, 'SIGKILL');
      } finally {
        for (const [pid, key] of frozen) if (identityOf(pid) === key) signal(pid, 'SIGCONT');
      }
      if (frozen.size === 0) break;
      await waitFor(() => [...frozen.keys()].every((pid) => !isAlive(pid)), { timeoutMs: 2000 }).catch(() => undefined);
    }
    this.pids.length = 0;
    const dirs = this.dirs.splice(0);
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  }
}

/** Polls `predicate` every `intervalMs` (default 20) until it holds; rejects after `timeoutMs` (default 10 s). */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${opts.what ?? 'a condition'}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 20));
  }
}
