import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, lstatSync } from 'node:fs';
import { lstat, readlink } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { DEFAULTS, type LlmUpgradeError, errors, type ErrorDetails } from '@llm-upgrade/core';
import semver from 'semver';
import { lexists } from '../fsutil.js';
import type { Manifest } from '../manifest.js';
import type { UpgradeEventSink } from '../events.js';
import { parseVersionOutput, versionInText } from '../foreign/version-output.js';

/** Identity of a staged file: after the swap the same inode must sit at the path (renames keep inodes). */
export interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
}

export async function identityOfFile(path: string): Promise<FileIdentity> {
  const st = await lstat(path);
  return { dev: st.dev, ino: st.ino, size: st.size };
}

function postCheckError(message: string, details: ErrorDetails<'ERR_POST_CHECK'> = {}): LlmUpgradeError {
  return errors.postCheckError({
    message,
    hint: 'The previous version was restored; check the package and the log.',
    phase: 'post-check',
    changed: true,
    details,
  });
}

async function sha256Of(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(c as Buffer);
  return h.digest('hex');
}

/**
 * Checks the installed tree against the manifest. With `staged` identities (apply), each path
 * must name the very inode that was hashed while staging (a stat per file, so downtime stays
 * flat however big the package is); without them (rollback), every file is re-hashed.
 */
export async function checkInstalledFiles(root: string, manifest: Manifest, staged?: Map<string, FileIdentity>): Promise<void> {
  for (const f of manifest.files) {
    const path = join(root, ...f.path.split('/'));
    let st;
    try {
      // Synchronous: this runs inside the downtime, a thread-pool round trip per file shows.
      st = lstatSync(path);
    } catch {
      throw postCheckError(`${path} is missing after the swap`, { path });
    }
    if (!st.isFile() || st.size !== f.size) throw postCheckError(`${path} has size ${st.size}, the manifest says ${f.size}`, { path });
    const id = staged?.get(f.path);
    if (id) {
      if (id.dev !== st.dev || id.ino !== st.ino) throw postCheckError(`${path} is not the file that was verified while staging`, { path });
    } else if ((await sha256Of(path)) !== f.sha256) throw postCheckError(`${path} does not match its SHA-256 in the manifest`, { path });
  }
  for (const l of manifest.links ?? []) {
    const path = join(root, ...l.path.split('/'));
    const target = await readlink(path).catch(() => null);
    if (target !== l.link) throw postCheckError(`${path} should link to ${l.link}, found ${target ?? 'nothing'}`, { path });
  }
}

/** The argv[0] of a root-relative command, as an absolute path. */
export function resolveUnderRoot(root: string, argv0: string): string {
  return isAbsolute(argv0) ? argv0 : join(root, ...argv0.split('/'));
}

export function runCommand(
  file: string,
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; output: string; error?: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 1 << 20, windowsHide: true }, (err, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      if (err) resolve({ code: typeof err.code === 'number' ? err.code : null, output, error: err.message });
      else resolve({ code: 0, output });
    });
  });
}

export { versionInText } from '../foreign/version-output.js';

/** Runs the smoke command; it must succeed and print `version`. */
/**
 * The version of the files now at root, for an install llm-upgrade did not record: what
 * `command` (root-relative argv: the package's smoke command or the profile's version command)
 * prints. null when there is no command, no such file, or no version in its output.
 */
export async function versionOfInstall(root: string, command: string[] | undefined): Promise<string | null> {
  if (!command?.length) return null;
  const file = resolveUnderRoot(root, command[0]!);
  if (!(await lexists(file))) return null;
  const r = await runCommand(file, command.slice(1), DEFAULTS.versionCommandMs);
  return r.code === 0 ? parseVersionOutput(r.output) : null;
}

export async function smokeCheck(root: string, smoke: string[], version: string, timeoutMs: number): Promise<string> {
  const [cmd, ...args] = smoke;
  const file = resolveUnderRoot(root, cmd!);
  const r = await runCommand(file, args, timeoutMs);
  const seen = parseVersionOutput(r.output);
  if (r.code !== 0 || seen === null || !semver.eq(seen, version)) {
    throw postCheckError(
      `smoke command "${smoke.join(' ')}" ${r.code !== 0 ? `failed (${r.error ?? `exit ${r.code}`})` : `printed version ${seen ?? '(none)'}`}, expected ${version}`,
      { command: smoke, output: r.output.slice(0, 2000) },
    );
  }
  return seen;
}

/** GETs url once: status and the version it reports (JSON "version", else the first semver in the body). */
export async function probe(url: string, timeoutMs: number): Promise<{ status: number; version: string | null }> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeoutMs);
  try {
    const res = await fetch(url, { signal: ctl.signal });
    const body = await res.text();
    let version: string | null = null;
    try {
      const doc = JSON.parse(body) as { version?: unknown };
      if (typeof doc.version === 'string') version = doc.version.replace(/^v/, '');
    } catch {
      version = versionInText(body);
    }
    return { status: res.status, version };
  } finally {
    clearTimeout(timer);
  }
}

export interface HealthWaitOptions {
  timeoutMs: number;
  onEvent?: UpgradeEventSink | undefined;
  signal?: AbortSignal | undefined;
  /** Where the new server writes its output, for the message when it does not come up. */
  logFile?: string | null | undefined;
}

const sleepMs = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/** The poll interval: 250 ms, growing to 1 s (a server loading models takes seconds). */
const pollDelay = (attempt: number) => Math.min(DEFAULTS.healthMaxPollMs, DEFAULTS.healthPollMs * 1.5 ** Math.max(0, attempt - 1));

/**
 * Polls the health URL until it answers 2xx with `version`, or throws ERR_HEALTH at the deadline.
 * Reports at most one health event per second (and the last one).
 */
export async function waitHealthy(url: string, version: string, opts: HealthWaitOptions): Promise<void> {
  const { timeoutMs, onEvent, signal } = opts;
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  let lastReport = 0;
  const report = (e: { status?: number; version?: string; error?: string }, attempt: number, force = false) => {
    if (!force && Date.now() - lastReport < 1000) return;
    lastReport = Date.now();
    onEvent?.({ type: 'health', url, attempt, ...e });
  };
  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) break;
    try {
      const r = await probe(url, Math.min(DEFAULTS.healthProbeMs, Math.max(200, deadline - Date.now())));
      const ok = r.status >= 200 && r.status < 300 && r.version && semver.valid(r.version) && semver.eq(r.version, version);
      report({ status: r.status, ...(r.version ? { version: r.version } : {}) }, attempt, Boolean(ok));
      if (ok) return;
      last = `HTTP ${r.status}, version ${r.version ?? '(none)'}`;
    } catch (e) {
      last = (e as Error).message;
      report({ error: last }, attempt);
    }
    if (Date.now() >= deadline) break;
    await sleepMs(Math.min(pollDelay(attempt), Math.max(0, deadline - Date.now())), signal);
  }
  const log = opts.logFile ? `; the new server's output is in ${opts.logFile}` : '';
  throw errors.healthError({
    message: `${url} did not report version ${version} within ${timeoutMs} ms (last: ${last})${log}`,
    hint: opts.logFile ? `Read ${opts.logFile} for why the new version did not come up.` : 'Check the server log of the new version.',
    phase: 'health',
    changed: true,
    details: { url, last, ...(opts.logFile ? { logFile: opts.logFile } : {}) },
  });
}
