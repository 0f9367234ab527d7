import { listeningOf, processDetails, type ListeningSocket, type Profile, type ScopedProcess } from '@llm-upgrade/core';
import type { HealthPlan, RecordedProcess } from './journal.js';
import { probe } from './checks.js';

/** Top-level processes of the install (no in-scope parent, not an orphaned engine): what a restart starts again. */
export function topLevel(running: readonly ScopedProcess[]): ScopedProcess[] {
  const pids = new Set(running.map((p) => p.pid));
  return running.filter((p) => !pids.has(p.ppid) && !p.orphan && p.role !== 'engine');
}

function descendants(running: readonly ScopedProcess[], pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) for (const p of running) if (p.ppid === out[i] && !out.includes(p.pid)) out.push(p.pid);
  return out;
}

/** argv, cwd, environment, user and listening sockets of each top-level process (sockets of its whole tree). */
export async function recordProcesses(running: readonly ScopedProcess[]): Promise<RecordedProcess[]> {
  const out: RecordedProcess[] = [];
  for (const p of topLevel(running)) {
    const d = await processDetails(p.pid).catch(() => null);
    if (!d || d.argv.length === 0) continue;
    const listening: ListeningSocket[] = [];
    for (const pid of descendants(running, p.pid)) {
      for (const s of pid === p.pid ? d.listening : await listeningOf(pid).catch(() => [])) {
        if (!listening.some((l) => l.address === s.address && l.port === s.port)) listening.push(s);
      }
    }
    out.push({
      pid: p.pid,
      startKey: p.startKey,
      name: p.name,
      role: p.role,
      exe: p.exe,
      argv: d.argv,
      cwd: d.cwd,
      env: d.env,
      uid: d.uid,
      gid: d.gid,
      listening,
      logFile: d.stderrFile ?? d.stdoutFile,
    });
  }
  return out;
}

/** "host:port", ":port", "http://host:port" (OLLAMA_HOST's forms) → host and port; 0.0.0.0 / :: mean loopback here. */
export function parseHostPort(value: string, defaultPort: number): { host: string; port: number } | null {
  const hostFirst = value.startsWith(':') ? `127.0.0.1${value}` : value;
  const text = /^[a-z]+:\/\//i.test(hostFirst) ? hostFirst : `http://${hostFirst}`;
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return null;
  }
  const port = u.port ? Number(u.port) : defaultPort;
  let host = u.hostname || '127.0.0.1';
  if (host === '0.0.0.0') host = '127.0.0.1';
  if (host === '[::]') host = '[::1]';
  return { host, port };
}

function socketHost(address: string): string {
  if (address === '0.0.0.0') return '127.0.0.1';
  if (address === '::') return '[::1]';
  return address.includes(':') ? `[${address}]` : address;
}

/**
 * Where to ask whether the server is healthy: the address it actually listened on (its sockets;
 * else OLLAMA_HOST in its environment), with the profile's health path; the profile's URL
 * otherwise. null when there is nothing to ask.
 */
export function healthUrlFor(
  recorded: readonly RecordedProcess[],
  profile: Profile | undefined,
): { url: string; source: HealthPlan['source'] } | null {
  const profileUrl = profile?.healthUrl ? new URL(profile.healthUrl) : null;
  const path = profileUrl ? `${profileUrl.pathname}${profileUrl.search}` : '/api/version';
  const profilePort = profileUrl ? Number(profileUrl.port || (profileUrl.protocol === 'https:' ? 443 : 80)) : 11434;
  const envHost = recorded.map((r) => r.env?.OLLAMA_HOST).find((v) => v !== undefined && v !== '');
  const envAddr = envHost ? parseHostPort(envHost, 11434) : null;
  const sockets = recorded.flatMap((r) => r.listening);
  if (sockets.length > 0) {
    const s = sockets.find((x) => x.port === envAddr?.port) ?? sockets.find((x) => x.port === profilePort) ?? sockets[0]!;
    return { url: `http://${socketHost(s.address)}:${s.port}${path}`, source: 'socket' };
  }
  if (envAddr) return { url: `http://${envAddr.host}:${envAddr.port}${path}`, source: 'OLLAMA_HOST' };
  if (profileUrl) return { url: profileUrl.toString(), source: 'profile' };
  return null;
}

/** Asks the health URL once, before the stop: did the running server answer it, and with which version? */
export async function healthBefore(
  recorded: readonly RecordedProcess[],
  profile: Profile | undefined,
  wasRunning: boolean,
): Promise<HealthPlan | null> {
  const target = healthUrlFor(recorded, profile);
  if (!target) return null;
  if (!wasRunning) return { ...target, answeredBefore: false, versionBefore: null };
  const r = await probe(target.url, 1500).catch(() => null);
  const answered = r !== null && r.status >= 200 && r.status < 300;
  return { ...target, answeredBefore: answered, versionBefore: answered ? r.version : null };
}
