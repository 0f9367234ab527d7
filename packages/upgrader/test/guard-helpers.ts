import { readdirSync, readFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { parseReadyLine, waitFor, type Ready } from '@llm-upgrade/testkit';
import { CLI } from './helpers.js';

/**
 * Gone = no /proc entry, or every thread a zombie. PID 1 here never reaps, so a killed orphan
 * stays Z for ever, and kill -0 would call it alive.
 */
export function isGone(pid: number): boolean {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return true;
  }
  return tasks.every((t) => {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'latin1');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      return state === 'Z' || state === 'X';
    } catch {
      return true;
    }
  });
}

export async function readReadyFile(file: string, timeoutMs = 15_000): Promise<Ready> {
  let ready: Ready | null = null;
  await waitFor(
    () => {
      try {
        ready = parseReadyLine(readFileSync(file, 'utf8'));
      } catch {
        ready = null;
      }
      return ready !== null;
    },
    { timeoutMs, what: `ready line in ${file}` },
  );
  return ready as unknown as Ready;
}

/** Resolves with the time (ms since `since`) at which every pid was gone, or rejects after timeoutMs. */
export async function allGone(pids: readonly number[], since: number, timeoutMs: number): Promise<number> {
  await waitFor(() => pids.every(isGone), {
    timeoutMs,
    intervalMs: 10,
    what: `pids ${pids.join(', ')} gone (left: ${pids.filter((p) => !isGone(p)).join(', ')})`,
  });
  return Date.now() - since;
}

export interface CliProcess {
  child: ChildProcess;
  pid: number;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

/** Starts `llm-upgrade args...` in the background (stdin closed, output collected). */
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  child.stdout!.resume();
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return { child, pid: child.pid!, exit, stderr: () => err };
}
