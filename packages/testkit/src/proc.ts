// Minimal /proc readers for the test kit. Deliberately independent of @llm-upgrade/core, so a
// broken core can never leave test processes behind.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

export interface ProcEntry {
  pid: number;
  ppid: number;
  state: string;
  /** Start time in clock ticks since boot: with the pid, the process identity. */
  startKey: string;
}

/** Parses /proc/PID/stat; comm may hold spaces and parentheses, so fields follow the last ')'. */
export function readStat(pid: number): ProcEntry | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { pid, ppid: Number(fields[1]), state: fields[0] ?? '?', startKey: fields[19] ?? '' };
}

/** Identity of a live (non-zombie) process, or null. */
export function identityOf(pid: number): string | null {
  const s = readStat(pid);
  return s && s.state !== 'Z' && s.state !== 'X' ? s.startKey : null;
}

export function isAlive(pid: number): boolean {
  return identityOf(pid) !== null;
}

export function listPids(): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number);
}

/** A /proc link target (exe, cwd) with the kernel's ` (deleted)` suffix removed; null if unreadable. */
export function readProcLink(pid: number, link: 'exe' | 'cwd'): string | null {
  try {
    return readlinkSync(`/proc/${pid}/${link}`).replace(/ \(deleted\)$/, '');
  } catch {
    return null;
  }
}

/** Our own pid and every ancestor up to init: never to be signalled by cleanup. */
export function selfAndAncestors(): Set<number> {
  const out = new Set<number>();
  let pid = process.pid;
  while (pid > 0 && !out.has(pid)) {
    out.add(pid);
    pid = readStat(pid)?.ppid ?? 0;
  }
  return out;
}

/** Live pids whose parent chain reaches one of `roots`. */
export function descendantsOf(roots: Iterable<number>): Set<number> {
  const children = new Map<number, number[]>();
  for (const pid of listPids()) {
    const s = readStat(pid);
    if (!s || s.state === 'Z') continue;
    const list = children.get(s.ppid) ?? [];
    list.push(pid);
    children.set(s.ppid, list);
  }
  const out = new Set<number>();
  const queue = [...roots];
  while (queue.length > 0) {
    const pid = queue.pop() as number;
    for (const c of children.get(pid) ?? []) {
      if (!out.has(c)) {
        out.add(c);
        queue.push(c);
      }
    }
  }
  return out;
}

export function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** Pids of live processes whose executable lies under dir. */
export function runningUnder(dir: string): number[] {
  return listPids().filter((pid) => {
    const exe = readProcLink(pid, 'exe');
    return exe?.startsWith(`${dir}/`) && identityOf(pid) !== null;
  });
}
