import { readdir, readFile, readlink, stat } from 'node:fs/promises';
import type { ListeningSocket, ProcessDetails } from '../../process-details.js';

const LISTEN = '0A';

/** /proc/net/tcp's "0100007F:2B5E" (IPv4) or 32 hex digits (IPv6, four little-endian words). */
export function parseProcNetAddress(hex: string): { address: string; port: number } {
  const [addr, port] = hex.split(':') as [string, string];
  const bytes: number[] = [];
  for (let w = 0; w < addr.length; w += 8) {
    const word = addr.slice(w, w + 8);
    for (let b = 6; b >= 0; b -= 2) bytes.push(parseInt(word.slice(b, b + 2), 16));
  }
  let address: string;
  if (bytes.length === 4) address = bytes.join('.');
  else {
    const v4mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
    if (v4mapped) address = bytes.slice(12).join('.');
    else {
      const groups: string[] = [];
      for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
      // The WHATWG URL parser compresses IPv6 addresses canonically.
      address = new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
    }
  }
  return { address, port: parseInt(port, 16) };
}

/** Listening TCP sockets in pid's network namespace: socket inode → address. */
export async function listeningSocketsOf(pid: number): Promise<Map<string, ListeningSocket>> {
  const out = new Map<string, ListeningSocket>();
  for (const file of ['tcp', 'tcp6']) {
    const text = await readFile(`/proc/${pid}/net/${file}`, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== LISTEN) continue;
      out.set(f[9]!, parseProcNetAddress(f[1]!));
    }
  }
  return out;
}

async function socketInodes(pid: number): Promise<Set<string>> {
  const inodes = new Set<string>();
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  for (const fd of fds) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m) inodes.add(m[1]!);
  }
  return inodes;
}

/** The TCP addresses pid listens on (its fds' socket inodes matched against /proc/PID/net/tcp*). */
export async function linuxListening(pid: number): Promise<ListeningSocket[]> {
  const [table, mine] = await Promise.all([listeningSocketsOf(pid), socketInodes(pid)]);
  const seen = new Set<string>();
  const out: ListeningSocket[] = [];
  for (const ino of mine) {
    const s = table.get(ino);
    if (s && !seen.has(`${s.address}:${s.port}`)) {
      seen.add(`${s.address}:${s.port}`);
      out.push(s);
    }
  }
  return out;
}

async function regularFileTarget(pid: number, fd: number): Promise<string | null> {
  const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => null);
  if (!target?.startsWith('/') || target.endsWith(' (deleted)')) return null;
  const st = await stat(target).catch(() => null);
  return st?.isFile() ? target : null;
}

export async function linuxProcessDetails(pid: number): Promise<ProcessDetails | null> {
  const [cmdline, environ, cwd, status] = await Promise.all([
    readFile(`/proc/${pid}/cmdline`).catch(() => null),
    readFile(`/proc/${pid}/environ`).catch(() => null),
    readlink(`/proc/${pid}/cwd`).catch(() => null),
    readFile(`/proc/${pid}/status`, 'utf8').catch(() => null),
  ]);
  if (!cmdline || !status) return null;
  const split = (b: Buffer) =>
    b
      .toString('utf8')
      .split('\0')
      .filter((s, i, a) => s !== '' || i < a.length - 1);
  const argv = split(cmdline);
  let env: Record<string, string> | null = null;
  if (environ) {
    env = {};
    for (const kv of split(environ)) {
      const eq = kv.indexOf('=');
      if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
  }
  const field = (name: string) => new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1];
  const uid = field('Uid');
  const gid = field('Gid');
  return {
    pid,
    argv,
    cwd: cwd?.replace(/ \(deleted\)$/, '') ?? null,
    env,
    uid: uid === undefined ? null : Number(uid),
    gid: gid === undefined ? null : Number(gid),
    listening: await linuxListening(pid),
    stdoutFile: await regularFileTarget(pid, 1),
    stderrFile: await regularFileTarget(pid, 2),
  };
}
