import { currentOs } from './platform/index.js';

export interface ListeningSocket {
  /** As the kernel reports it: 0.0.0.0, 127.0.0.1, ::, ::1 … */
  address: string;
  port: number;
}

/** What it takes to start a process again as it ran: argv, cwd, environment, user, sockets, log files. */
export interface ProcessDetails {
  pid: number;
  argv: string[];
  cwd: string | null;
  /** null when the environment could not be read. */
  env: Record<string, string> | null;
  uid: number | null;
  gid: number | null;
  /** TCP sockets the process listens on. */
  listening: ListeningSocket[];
  /** Regular files its stdout / stderr were written to, when they were. */
  stdoutFile: string | null;
  stderrFile: string | null;
}

/**
 * Reads a running process's argv, cwd, environment, user and listening sockets, or null when
 * the process is gone or unreadable. Linux reads /proc; other platforms return null for now
 * (the caller falls back to the profile's start command).
 */
export async function processDetails(pid: number): Promise<ProcessDetails | null> {
  if (currentOs() !== 'linux') return null;
  return (await import('./platform/linux/process-details.js')).linuxProcessDetails(pid);
}

/** The TCP addresses pid listens on now ([] where this cannot be read). */
export async function listeningOf(pid: number): Promise<ListeningSocket[]> {
  if (currentOs() !== 'linux') return [];
  return (await import('./platform/linux/process-details.js')).linuxListening(pid);
}
