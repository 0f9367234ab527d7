// launchd through launchctl. `launchctl list` prints "PID\tStatus\tLabel" then one job per line;
// PID is "-" for a loaded job that is not running. It lists the caller's domain (the user's
// GUI domain for a user, the system domain for root).
import type { ScopedProcess, ServiceRef } from '../../types.js';

export interface LaunchdJob {
  label: string;
  pid: number | null;
  /** Last exit status (negative: killed by that signal). */
  status: number | null;
}

export function parseLaunchctlList(text: string): LaunchdJob[] {
  const jobs: LaunchdJob[] = [];
  for (const line of text.split('\n')) {
    const cells = line.split('\t');
    if (cells.length < 3 || cells[0] === 'PID') continue;
    const [pidText = '', statusText = '', ...label] = cells;
    const pid = /^\d+$/.test(pidText.trim()) ? Number(pidText.trim()) : null;
    const status = /^-?\d+$/.test(statusText.trim()) ? Number(statusText.trim()) : null;
    jobs.push({ label: label.join('\t').trim(), pid, status });
  }
  return jobs;
}

/**
 * A job owns in-scope processes when its pid is one of them, or when it is named in the profile
 * and its pid is an ancestor of one (a wrapper script launching the server).
 */
export function matchLaunchdJobs(
  jobs: readonly LaunchdJob[],
  processes: readonly ScopedProcess[],
  labels: readonly string[],
  ancestorsOf: (pid: number) => number[],
): ServiceRef[] {
  const inScope = processes.filter((p) => p.inScope);
  const scopePids = new Set(inScope.map((p) => p.pid));
  const refs: ServiceRef[] = [];
  for (const job of jobs) {
    if (job.pid === null) continue;
    const pids = new Set<number>();
    if (scopePids.has(job.pid)) pids.add(job.pid);
    if (labels.includes(job.label)) for (const p of inScope) if (ancestorsOf(p.pid).includes(job.pid)) pids.add(p.pid);
    if (pids.size) refs.push({ manager: 'launchd', name: job.label, pids: [...pids].sort((a, b) => a - b) });
  }
  return refs;
}
