// taskkill runner and output parser. We only ever pass /PID (never /IM: never by image name).
// Windows (English) and Wine print different sentences; the parser keys on the pid and a few
// words, and anything it cannot read (other UI languages) is left to the caller's own check
// through the process handle.
import type { Exec, ExecResult } from '../../exec.js';

export type TaskkillStatus =
  /** /F: terminated. */
  | 'terminated'
  /** Without /F: close request sent (WM_CLOSE to its windows). */
  | 'signalled'
  | 'not-found'
  | 'denied'
  /** Without /F, a process with no window: "can only be terminated forcefully". */
  | 'force-only'
  | 'error';

export interface TaskkillPidResult {
  status: TaskkillStatus;
  /** The line(s) taskkill printed for this pid. */
  message: string;
}

export interface TaskkillOutcome {
  exitCode: number | null;
  perPid: Map<number, TaskkillPidResult>;
  /** taskkill rejected the command line (Wine's taskkill has no /T). */
  badSyntax: boolean;
  /** taskkill could not be run at all (missing, timed out). */
  spawnError?: string;
  raw: string;
}

const PID_PATTERNS = [/\bPID\s+(\d+)/i, /"(\d+)"/];

function pidOf(line: string): number | null {
  for (const re of PID_PATTERNS) {
    const m = re.exec(line);
    if (m) return Number(m[1]);
  }
  return null;
}

function classify(text: string): TaskkillStatus {
  if (/access is denied/i.test(text)) return 'denied';
  if (/terminated forcefully/i.test(text)) return 'force-only';
  if (/not found|could not find process|no running instance/i.test(text)) return 'not-found';
  if (/^\s*(error|erreur|fehler)\b/i.test(text)) return 'error';
  if (/forcibly terminated|has been terminated/i.test(text)) return 'terminated';
  if (/termination signal|close message sent/i.test(text)) return 'signalled';
  return 'error';
}

export function parseTaskkill(stdout: string, stderr: string, exitCode: number | null): TaskkillOutcome {
  const raw = `${stdout}${stdout && stderr ? '\n' : ''}${stderr}`;
  const lines = raw
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  const perPid = new Map<number, TaskkillPidResult>();
  let badSyntax = false;
  let last: number | null = null;
  for (const line of lines) {
    if (/invalid (argument|command line option|syntax)|unknown or invalid|usage:|TASKKILL \/\?/i.test(line)) {
      badSyntax = true;
      last = null;
      continue;
    }
    // Windows prints the reason of an error on the next line ("Reason: Access is denied.").
    if (/^reason:/i.test(line) && last !== null) {
      const prev = perPid.get(last);
      if (prev) {
        const message = `${prev.message} ${line}`;
        perPid.set(last, { status: classify(message), message });
      }
      continue;
    }
    const pid = pidOf(line);
    if (pid === null) {
      last = null;
      continue;
    }
    perPid.set(pid, { status: classify(line), message: line });
    last = pid;
  }
  return { exitCode, perPid, badSyntax: badSyntax && perPid.size === 0, raw };
}

export interface TaskkillRequest {
  pid: number;
  tree: boolean;
  force: boolean;
}

export function taskkillArgs(req: TaskkillRequest): string[] {
  return ['/PID', String(req.pid), ...(req.tree ? ['/T'] : []), ...(req.force ? ['/F'] : [])];
}

export async function runTaskkill(exec: Exec, req: TaskkillRequest, timeoutMs = 30_000): Promise<TaskkillOutcome> {
  const r: ExecResult = await exec('taskkill.exe', taskkillArgs(req), { timeoutMs });
  const out = parseTaskkill(r.stdout, r.stderr, r.code);
  if (r.error) out.spawnError = r.error;
  return out;
}
