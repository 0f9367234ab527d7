// A throw-away Wine prefix for one test file: Windows processes, files and installers run in
// it, and the Linux side watches them through /proc. Every Wine command has a timeout and writes
// stdout/stderr to files (Node under Wine fails on pipes). dispose() ends every process of the
// prefix (`wineserver -k`, then any straggler by pid, identified by its WINEPREFIX) and removes
// the temp dir, also after a failed test.
import { spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { it } from 'vitest';

export interface WineRunResult {
  /** Exit code as Wine reports it (Windows exit codes cut to 8 bits: 1603 → 67); 124 on timeout. */
  code: number;
  stdout: string;
  stderr: string;
  stdoutFile: string;
  stderrFile: string;
}

export interface WineProcess {
  /** Linux pid of the process that runs the Windows program. */
  pid: number;
  /** The Windows command line, as Wine writes it over argv (`C:\App\ollama.exe serve ...`). */
  commandLine: string;
}

export interface WineRunOptions {
  timeoutMs?: number;
  /** Basename for the stdout/stderr files in the logs dir. */
  name?: string;
  env?: Record<string, string>;
}

const REQUIRED_TOOLS = ['wine', 'wineboot', 'wineserver', 'timeout', 'x86_64-w64-mingw32-gcc'] as const;

function onPath(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
}

/** Null when Wine, mingw and the extra tools are usable here, or why not. */
export function wineUnavailableReason(extraTools: readonly string[] = []): string | null {
  const missing = [...REQUIRED_TOOLS, ...extraTools].filter((tool) => !onPath(tool));
  if (missing.length > 0) {
    return `wine tests need ${missing.join(', ')} on PATH (Debian: apt-get install -y wine gcc-mingw-w64-x86-64-posix wixl msitools nsis osslsigncode)`;
  }
  if (process.platform !== 'linux' || process.arch !== 'x64') return `wine tests run on linux-x64, not ${process.platform}-${process.arch}`;
  return null;
}

/**
 * Whether a wine test file runs. Without Wine it is skipped with the reason printed, except
 * under CI=true, where CI is expected to have installed Wine: there a failing test says so.
 * Call at the top level of a test file.
 */
export function wineGate(file: string, extraTools: readonly string[] = [], extraCheck?: () => string | null): { run: boolean } {
  const reason = wineUnavailableReason(extraTools) ?? extraCheck?.() ?? null;
  if (reason === null) return { run: true };
  if (process.env.CI === 'true') {
    it(`Wine, mingw-w64 and the installer tools are installed (CI=true requires them for ${file})`, () => {
      throw new Error(`${file} cannot run: ${reason}`);
    });
  } else {
    process.stderr.write(`[wine] skipping ${file}: ${reason}\n`);
  }
  return { run: false };
}

let sequence = 0;

export interface WinePrefixOptions {
  /**
   * Run the prefix on its own Xvfb display instead of Wine's null display driver: Inno Setup's
   * wizard (even /VERYSILENT) fails to initialise under the null driver.
   */
  xvfb?: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Serialises prefix creation across processes (other suites, other engineers' runs):
 * several `wineboot --init` at once on 2 cores is what made `winecfg` fail under load. A
 * directory is the lock; a holder that died leaves its pid, and the lock is taken over.
 */
async function withCreationLock<T>(fn: () => Promise<T>): Promise<T> {
  const lock = join(tmpdir(), 'llm-upgrade-wine-create.lock');
  const deadline = Date.now() + 300_000;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      let holder = NaN;
      try {
        holder = Number(readFileSync(join(lock, 'pid'), 'utf8'));
      } catch {
        // being created or removed right now
      }
      let alive = true;
      if (Number.isInteger(holder) && holder > 0) {
        try {
          process.kill(holder, 0);
        } catch {
          alive = false;
        }
      }
      if (!alive || Date.now() > deadline) rmSync(lock, { recursive: true, force: true });
      await sleep(250);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export class WinePrefix {
  readonly dir: string;
  readonly prefix: string;
  readonly logs: string;
  readonly env: NodeJS.ProcessEnv;
  private disposed = false;
  private xvfbPid: number | undefined;

  private constructor(dir: string) {
    this.dir = dir;
    this.prefix = join(dir, 'prefix');
    this.logs = join(dir, 'logs');
    mkdirSync(this.logs, { recursive: true });
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      WINEPREFIX: this.prefix,
      WINEDEBUG: '-all',
      WINEDLLOVERRIDES: 'mscoree,mshtml=',
      WINEARCH: 'win64',
    };
    // No X server: Wine's null display driver (set in create()) still gives windows, which
    // `taskkill` without /F needs to post WM_CLOSE to.
    delete env.DISPLAY;
    delete env.WAYLAND_DISPLAY;
    this.env = env;
  }

  /**
   * wineboot --init (~8 s), Windows 10, null display driver (or an Xvfb display); the prefix is
   * ready to run programs. wineboot and winecfg get a second try: under load they have failed once.
   */
  static async create(options: WinePrefixOptions = {}): Promise<WinePrefix> {
    const dir = mkdtempSync(join(tmpdir(), 'llm-upgrade-wine-'));
    const wine = new WinePrefix(dir);
    try {
      if (options.xvfb) await wine.startXvfb();
      await withCreationLock(async () => {
        await wine.mustRunTwice('wineboot', ['--init'], { timeoutMs: 180_000, name: 'wineboot' });
        if (!options.xvfb)
          await wine.mustRunTwice('wine', ['reg', 'add', 'HKCU\\Software\\Wine\\Drivers', '/v', 'Graphics', '/d', 'null', '/f'], {
            name: 'reg-graphics',
          });
        await wine.mustRunTwice('wine', ['winecfg', '-v', 'win10'], { name: 'winecfg' });
      });
      // Restart the prefix's wineserver so the desktop comes back with the null driver. Wait
      // for every process of the old one to be gone: a program started while it shuts down
      // can fail ("ShellExecuteEx failed: Internal error").
      await wine.exec('wineserver', ['-k'], { name: 'wineserver-restart', timeoutMs: 30_000 });
      await wine.waitFor('the old wineserver to exit', () => wine.stragglers().length === 0, 30_000);
      // The first program after a restart also starts the prefix's services; let that happen
      // here rather than inside a test's timed command.
      for (let attempt = 1; ; attempt++) {
        const r = await wine.exec('wine', ['cmd', '/c', 'echo', 'ready'], { name: `warm-up-${attempt}` });
        if (r.code === 0 && r.stdout.includes('ready')) break;
        if (attempt === 3) throw new Error(`wine cmd /c echo ready failed 3 times: ${r.stdout} ${r.stderr}`);
        await sleep(1000);
      }
    } catch (error) {
      await wine.dispose();
      throw error;
    }
    return wine;
  }

  private async mustRunTwice(command: string, args: string[], options: WineRunOptions): Promise<WineRunResult> {
    const first = await this.exec(command, args, options);
    if (first.code === 0) return first;
    process.stderr.write(`[wine] ${command} ${args.join(' ')} exited ${first.code}; retrying once\n`);
    await this.exec('wineserver', ['-w'], { name: 'wineserver-wait', timeoutMs: 60_000 }).catch(() => undefined);
    return this.mustRun(command, args, { ...options, name: `${options.name ?? command}-retry` });
  }

  /** An Xvfb of our own (bounded by `timeout`), its display in this prefix's environment. */
  private async startXvfb(): Promise<void> {
    const child = spawn(
      'timeout',
      ['--kill-after=5', '3600', 'Xvfb', '-displayfd', '1', '-nolisten', 'tcp', '-screen', '0', '1024x768x24'],
      { stdio: ['ignore', 'pipe', 'ignore'], detached: true },
    );
    child.unref();
    const display = await new Promise<string>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error('Xvfb did not report a display within 20 s')), 20_000);
      child.stdout!.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        const m = /^(\d+)\n/.exec(text);
        if (m) {
          clearTimeout(timer);
          resolve(`:${m[1]}`);
        }
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`Xvfb exited ${code} before reporting a display`));
      });
    });
    child.stdout!.destroy();
    this.xvfbPid = child.pid;
    this.env.DISPLAY = display;
  }

  /** `C:\App\x.exe` → `<prefix>/drive_c/App/x.exe` (Wine's drive_c is case-preserving; keep the case). */
  toUnix(windowsPath: string): string {
    const match = /^([A-Za-z]):[\\/]?(.*)$/.exec(windowsPath);
    if (!match || match[1]!.toLowerCase() !== 'c') throw new Error(`not a C: path: ${windowsPath}`);
    const rest = match[2]!.split(/[\\/]+/).filter((part) => part.length > 0);
    return join(this.prefix, 'drive_c', ...rest);
  }

  /** Runs a Linux-side Wine tool (`wine`, `wineserver`, `msiexec`, `wineboot`) with a timeout, output to files. */
  exec(command: string, args: string[], options: WineRunOptions = {}): Promise<WineRunResult> {
    const timeoutMs = options.timeoutMs ?? 60_000;
    const name = `${String(++sequence).padStart(3, '0')}-${options.name ?? command}`;
    const stdoutFile = join(this.logs, `${name}.out`);
    const stderrFile = join(this.logs, `${name}.err`);
    const out = openSync(stdoutFile, 'w');
    const err = openSync(stderrFile, 'w');
    const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
    const child = spawn('timeout', ['--kill-after=5', String(seconds), command, ...args], {
      env: { ...this.env, ...options.env },
      stdio: ['ignore', out, err],
    });
    closeSync(out);
    closeSync(err);
    return new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code, signal) => {
        resolve({
          code: code ?? (signal ? 128 : 1),
          stdout: readFileSync(stdoutFile, 'utf8'),
          stderr: readFileSync(stderrFile, 'utf8'),
          stdoutFile,
          stderrFile,
        });
      });
    });
  }

  /** Runs a Windows program: `wine PROGRAM ARGS...`. */
  run(program: string, args: string[] = [], options: WineRunOptions = {}): Promise<WineRunResult> {
    return this.exec('wine', [program, ...args], options);
  }

  async mustRun(command: string, args: string[], options: WineRunOptions = {}): Promise<WineRunResult> {
    const result = await this.exec(command, args, options);
    if (result.code !== 0) {
      throw new Error(
        `${command} ${args.join(' ')} exited ${result.code}\nstdout: ${result.stdout.slice(-2000)}\nstderr: ${result.stderr.slice(-2000)}`,
      );
    }
    return result;
  }

  /**
   * Starts a Windows program in the background and does not wait for it (servers, engines).
   * The `timeout` around it bounds its life even if dispose() never runs.
   */
  start(program: string, args: string[], options: WineRunOptions = {}): void {
    const name = `${String(++sequence).padStart(3, '0')}-${options.name ?? 'start'}`;
    const out = openSync(join(this.logs, `${name}.out`), 'w');
    const err = openSync(join(this.logs, `${name}.err`), 'w');
    const seconds = Math.ceil((options.timeoutMs ?? 600_000) / 1000);
    const child = spawn('timeout', ['--kill-after=5', String(seconds), 'wine', program, ...args], {
      env: { ...this.env, ...options.env },
      stdio: ['ignore', out, err],
      detached: true,
    });
    child.unref();
    closeSync(out);
    closeSync(err);
  }

  /**
   * Windows processes of this prefix seen from Linux: every live process whose environment has
   * our WINEPREFIX and whose argv Wine overwrote with a Windows path. Other prefixes (other tests,
   * other users) are never listed.
   */
  processes(): WineProcess[] {
    const found: WineProcess[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const pid = Number(entry);
      let commandLine: string;
      let environ: string;
      try {
        commandLine = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
        environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
      } catch {
        continue; // exited meanwhile, or a kernel thread
      }
      if (!/^"?[A-Za-z]:\\/.test(commandLine)) continue;
      if (!environ.split('\0').includes(`WINEPREFIX=${this.prefix}`)) continue;
      found.push({ pid, commandLine });
    }
    return found;
  }

  /** Processes of this prefix whose Windows command line starts with a path under `windowsDir`. */
  processesUnder(windowsDir: string): WineProcess[] {
    const prefix = windowsDir.replace(/[\\/]+$/, '').toLowerCase() + '\\';
    // A program path with spaces is quoted at the start of its command line.
    return this.processes().filter((p) => p.commandLine.replace(/^"/, '').toLowerCase().startsWith(prefix));
  }

  /** Polls until `check` returns a value, or throws with `what` after timeoutMs. */
  async waitFor<T>(what: string, check: () => T | null | undefined | false, timeoutMs = 60_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = check();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Waits for a file a Windows program writes (ready files) and returns its text. */
  async waitForFile(windowsPath: string, timeoutMs = 60_000): Promise<string> {
    const path = this.toUnix(windowsPath);
    return this.waitFor(`${windowsPath} (${path})`, () => (existsSync(path) ? readFileSync(path, 'utf8') : null), timeoutMs);
  }

  writeFile(windowsPath: string, content: string | Buffer): void {
    const path = this.toUnix(windowsPath);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, content);
  }

  /** Ends every process of this prefix and removes the temp dir. Safe to call twice. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.exec('wineserver', ['-k'], { name: 'wineserver-kill', timeoutMs: 30_000 }).catch(() => undefined);
    // Anything still alive carries our prefix in its environment: ours to end.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const left = this.stragglers();
      if (left.length === 0 || Date.now() > deadline) break;
      for (const pid of left) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    this.removeServerDir();
    if (this.xvfbPid !== undefined) {
      try {
        process.kill(-this.xvfbPid, 'SIGTERM'); // the `timeout` and its Xvfb: a process group we started
      } catch {
        // already gone
      }
    }
    const keep = process.env.LLM_UPGRADE_WINE_KEEP_LOGS;
    if (keep) cpSync(this.logs, join(keep, basename(this.dir)), { recursive: true });
    rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
  }

  /** Keeps a copy of a file (Windows or Linux path) with the logs (kept when LLM_UPGRADE_WINE_KEEP_LOGS is set). */
  saveLog(path: string, name: string): void {
    const source = path.startsWith('/') ? path : this.toUnix(path);
    if (existsSync(source)) copyFileSync(source, join(this.logs, name));
  }

  /**
   * wineserver leaves `/tmp/wine-XXXXXX/server-<dev>-<inode>/` (its socket and lock) for each
   * prefix, named after the prefix directory's device and inode: remove ours once it has exited.
   */
  private removeServerDir(): void {
    let name: string;
    try {
      const st = statSync(this.prefix);
      name = `server-${st.dev.toString(16)}-${st.ino.toString(16)}`;
    } catch {
      return;
    }
    for (const tmp of new Set([tmpdir(), '/tmp'])) {
      let entries: string[];
      try {
        entries = readdirSync(tmp).filter((e) => e.startsWith('wine-'));
      } catch {
        continue;
      }
      for (const entry of entries) {
        const parent = join(tmp, entry);
        const server = join(parent, name);
        if (!existsSync(server)) continue;
        rmSync(server, { recursive: true, force: true });
        try {
          if (readdirSync(parent).length === 0) rmSync(parent, { recursive: true, force: true });
        } catch {
          // another process's dir, or already gone
        }
      }
    }
  }

  /** Every Linux process (Wine's own included: wineserver, wine-preloader) started for this prefix. */
  stragglers(): number[] {
    const pids: number[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
      try {
        const environ = readFileSync(`/proc/${entry}/environ`, 'utf8');
        if (environ.split('\0').includes(`WINEPREFIX=${this.prefix}`)) pids.push(Number(entry));
      } catch {
        // exited meanwhile
      }
    }
    return pids;
  }
}
