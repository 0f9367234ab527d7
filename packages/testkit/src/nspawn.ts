// A real systemd for tests, the only safe way on this machine: systemd-nspawn booting the host's
// own systemd on a throwaway tmpfs root (`--directory=/ --volatile=yes`: the host's /usr is bound
// read-only, nothing else of the host is shared unless bound in). NEVER boot systemd on the shared
// file system (unshare + systemd, or --volatile=overlay on /): its tmpfiles service empties the
// host's /tmp at boot. Binds go to paths outside the container's /tmp for the same reason.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { runProcess, type ProcessRun } from './run.js';

export interface NspawnBind {
  /** Host path (a temp dir the test made, or a read-only tree such as the repository). */
  host: string;
  /** Path inside the container (default: the same); keep it out of /tmp, which the container's boot clears. */
  container?: string;
  readOnly?: boolean;
}

export interface NspawnOptions {
  binds: NspawnBind[];
  /** How long to wait for `systemctl is-system-running --wait` (default 90 s). */
  bootTimeoutMs?: number;
}

export interface Container {
  /** The systemd-nspawn process (SIGTERM ends the container). */
  nspawnPid: number;
  /** The container's init (systemd) as the host sees it: nsenter's target. */
  initPid: number;
  /** What `systemctl is-system-running` said once booted (running or degraded). */
  state: string;
  /** Runs a command inside every namespace of the container (nsenter --all); never rejects on a non-zero exit. */
  exec(argv: string[], opts?: { env?: Record<string, string>; timeoutMs?: number }): Promise<ProcessRun>;
  /** `sh -c SCRIPT` inside the container. */
  sh(script: string, opts?: { env?: Record<string, string>; timeoutMs?: number }): Promise<ProcessRun>;
  /** SIGTERM to systemd-nspawn, then wait until it exited (idempotent). */
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function which(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':'))
    if (dir && existsSync(`${dir}/${cmd}`)) return `${dir}/${cmd}`;
  return null;
}

/** Why a container cannot be booted here, or null when it can be tried. */
export function nspawnUnavailable(): string | null {
  if (process.platform !== 'linux') return `systemd-nspawn needs Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'systemd-nspawn needs root';
  if (!which('systemd-nspawn')) return 'systemd-nspawn is not installed (apt-get install -y systemd-container)';
  if (!which('nsenter')) return 'nsenter is not installed (util-linux)';
  if (!existsSync('/usr/lib/systemd/systemd') && !existsSync('/lib/systemd/systemd')) return 'systemd is not installed';
  return null;
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function commOf(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return null;
  }
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test run that dies (or forgets afterAll) must not leave a container booted.
  process.once('exit', () => {
    for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  });
}

/** Boots a container with the host's systemd and waits until it is up; stop() it in afterAll. */
export async function bootContainer(opts: NspawnOptions): Promise<Container> {
  const why = nspawnUnavailable();
  if (why) throw new Error(why);
  const args = ['-q', '--directory=/', '--volatile=yes', '--register=no', '--keep-unit', '--boot'];
  for (const b of opts.binds) {
    const target = b.container ?? b.host;
    if (target === '/tmp' || target.startsWith('/tmp/'))
      throw new Error(`bind ${b.host} to a container path outside /tmp (the container's boot clears its /tmp), not ${target}`);
    args.push(`--bind${b.readOnly ? '-ro' : ''}=${b.host}:${target}`);
  }
  args.push('--', 'systemd.firstboot=off');
  installExitHook();
  const child = spawn('systemd-nspawn', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (output = (output + d).slice(-20_000)));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (output = (output + d).slice(-20_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', () => resolve());
    child.once('error', reject);
  });
  const nspawnPid = child.pid!;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await Promise.race([exited, sleep(60_000)]);
    running.delete(child);
  };
  const deadline = Date.now() + (opts.bootTimeoutMs ?? 90_000);
  try {
    // The container's init is systemd-nspawn's child once it has exec'd systemd.
    let initPid = 0;
    while (!initPid) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`systemd-nspawn exited (${child.exitCode ?? child.signalCode}) before booting:\n${output}`);
      if (Date.now() > deadline) throw new Error(`systemd-nspawn (pid ${nspawnPid}) started no systemd in time:\n${output}`);
      initPid = childrenOf(nspawnPid).find((p) => commOf(p) === 'systemd') ?? 0;
      if (!initPid) await sleep(100);
    }
    const enter = (argv: string[], o: { env?: Record<string, string>; timeoutMs?: number } = {}) =>
      runProcess('nsenter', ['--target', String(initPid), '--all', '--', ...argv], {
        env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C.UTF-8', ...o.env },
        timeoutMs: o.timeoutMs ?? 120_000,
      });
    let state = '';
    while (state !== 'running' && state !== 'degraded') {
      if (Date.now() > deadline)
        throw new Error(`the container (init pid ${initPid}) did not finish booting: ${state || 'no answer'}\n${output}`);
      const r = await enter(['systemctl', 'is-system-running', '--wait'], { timeoutMs: Math.max(1000, deadline - Date.now()) });
      state = r.stdout.trim();
      if (state !== 'running' && state !== 'degraded') await sleep(250);
    }
    return { nspawnPid, initPid, state, exec: enter, sh: (script, o) => enter(['/bin/sh', '-c', script], o), stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
