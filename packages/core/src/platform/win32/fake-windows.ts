// A model of the parts of Windows the backend talks to, for tests on any OS: a process table
// with raw (never updated) parent pids and creation FILETIMEs, OpenProcess access checks, handles
// that keep a pid from being reused, and taskkill.exe answering in Windows' or Wine's words.
// Not used in production.
import type { Exec, ExecResult } from '../../exec.js';
import {
  ERROR_ACCESS_DENIED,
  ERROR_INVALID_PARAMETER,
  ERROR_SUCCESS,
  PROCESS_TERMINATE,
  type OpenResult,
  type ProcessHandle,
  type RestartManagerApi,
  type WinApi,
} from './winapi.js';

export interface FakeProc {
  pid: number;
  /** Raw th32ParentProcessID. */
  ppid: number;
  name: string;
  exe: string | null;
  creation: bigint;
  cmdline?: string;
  alive?: boolean;
  /** 'open': OpenProcess fails; 'terminate': only PROCESS_TERMINATE is refused. */
  denied?: 'open' | 'terminate';
  /** Has a window, so taskkill without /F can close it. */
  windowed?: boolean;
}

export class FakeWindows {
  readonly procs = new Map<number, FakeProc & { alive: boolean }>();
  /** Every taskkill / TerminateProcess, in order: "taskkill /PID 5 /T /F", "TerminateProcess 5". */
  readonly calls: string[] = [];
  dialect: 'windows' | 'wine' = 'windows';
  taskkillMissing = false;
  restartManager: RestartManagerApi | null = null;
  /** Called after every kill, so a test can spawn what a dying tree leaves behind. */
  onKill?: (pid: number) => void;
  private openHandles = new Map<number, number>();

  add(...procs: FakeProc[]): this {
    for (const p of procs) this.procs.set(p.pid, { ...p, alive: p.alive ?? true });
    return this;
  }

  /** The pid is handed to a new process (only possible when nobody holds a handle to the old one). */
  reuse(pid: number, next: Omit<FakeProc, 'pid'>): void {
    if ((this.openHandles.get(pid) ?? 0) > 0) throw new Error(`pid ${pid} is held open and cannot be reused`);
    this.procs.set(pid, { ...next, pid, alive: next.alive ?? true });
  }

  alive(pid: number): boolean {
    return this.procs.get(pid)?.alive ?? false;
  }

  kill(pid: number): void {
    const p = this.procs.get(pid);
    if (p) p.alive = false;
    this.onKill?.(pid);
  }

  readonly api: WinApi = {
    listProcesses: () => [...this.procs.values()].filter((p) => p.alive).map((p) => ({ pid: p.pid, ppid: p.ppid, exeFile: p.name })),
    openProcess: (pid, access) => this.open(pid, access),
    get restartManager() {
      return null;
    },
  };

  /** The api with a Restart Manager attached. */
  apiWithRm(): WinApi {
    return { listProcesses: this.api.listProcesses, openProcess: this.api.openProcess, restartManager: this.restartManager };
  }

  private open(pid: number, access: number): OpenResult {
    const p = this.procs.get(pid);
    if (!p || (!p.alive && !this.openHandles.get(pid))) return { ok: false, error: ERROR_INVALID_PARAMETER };
    if (p.denied === 'open' || (p.denied === 'terminate' && access & PROCESS_TERMINATE)) return { ok: false, error: ERROR_ACCESS_DENIED };
    this.openHandles.set(pid, (this.openHandles.get(pid) ?? 0) + 1);
    let open = true;
    const handle: ProcessHandle = {
      pid,
      creationTime: () => p.creation,
      imagePath: () => p.exe,
      commandLine: () => p.cmdline ?? null,
      terminate: () => {
        this.calls.push(`TerminateProcess ${pid}`);
        if (!(access & PROCESS_TERMINATE)) return ERROR_ACCESS_DENIED;
        this.kill(pid);
        return ERROR_SUCCESS;
      },
      waitForExit: () => !p.alive,
      close: () => {
        if (open) this.openHandles.set(pid, (this.openHandles.get(pid) ?? 1) - 1);
        open = false;
      },
    };
    return { ok: true, handle };
  }

  private descendants(root: number): number[] {
    const out: number[] = [];
    const visit = (pid: number) => {
      for (const c of this.procs.values()) {
        if (c.alive && c.ppid === pid && c.pid !== pid && !out.includes(c.pid)) {
          out.push(c.pid);
          visit(c.pid);
        }
      }
    };
    visit(root);
    return out;
  }

  private taskkill(args: readonly string[]): ExecResult {
    const upper = args.map((a) => a.toUpperCase());
    const tree = upper.includes('/T');
    const force = upper.includes('/F');
    const pid = Number(args[upper.indexOf('/PID') + 1]);
    const wine = this.dialect === 'wine';
    this.calls.push(`taskkill ${args.join(' ')}`);
    if (wine && tree) {
      return {
        code: 1,
        stdout: 'Error: Unknown or invalid command line option specified.\nUsage: taskkill [/?] [/f] [/im ProcessName | /pid ProcessID]\n',
        stderr: '',
      };
    }
    const root = this.procs.get(pid);
    if (!root?.alive) {
      return wine
        ? { code: 128, stdout: `Error: Could not find process "${pid}".\r\n`, stderr: '' }
        : { code: 128, stdout: '', stderr: `ERROR: The process "${pid}" not found.\r\n` };
    }
    // taskkill /T ends children before their parents and names each one's parent.
    const order = tree ? [...this.descendants(pid).reverse(), pid] : [pid];
    let stdout = '';
    let stderr = '';
    for (const target of order) {
      const p = this.procs.get(target);
      if (!p) continue;
      const who = tree ? `PID ${target} (child process of PID ${p.ppid})` : `PID ${target}`;
      if (p.denied) {
        stderr += wine
          ? `Error: Unable to terminate process "${target}".\r\n`
          : `ERROR: The process with ${who} could not be terminated.\r\nReason: Access is denied.\r\n`;
      } else if (force) {
        this.kill(target);
        stdout += wine
          ? `Process with PID ${target} was forcibly terminated.\r\n`
          : `SUCCESS: The process with ${who} has been terminated.\r\n`;
      } else if (p.windowed) {
        this.kill(target);
        stdout += wine
          ? `Close message sent to top-level windows of process with PID ${target}.\r\n`
          : `SUCCESS: Sent termination signal to the process with ${who}.\r\n`;
      } else {
        stderr += wine
          ? `Error: Could not find process "${target}".\r\n`
          : `ERROR: The process with ${who} could not be terminated.\r\nReason: This process can only be terminated forcefully (with /F option).\r\n`;
      }
    }
    return { code: stderr ? 128 : 0, stdout, stderr };
  }

  /** Extra programs (sc.exe, powershell.exe, nvidia-smi.exe) answered by the test. */
  programs = new Map<string, (args: readonly string[]) => ExecResult>();

  readonly exec: Exec = async (file, args) => {
    const name = file.toLowerCase().replace(/^.*[\\/]/, '');
    if (name === 'taskkill.exe') {
      if (this.taskkillMissing) return { code: null, stdout: '', stderr: '', error: 'ENOENT' };
      return this.taskkill(args);
    }
    const program = this.programs.get(name);
    if (program) return program(args);
    return { code: null, stdout: '', stderr: '', error: 'ENOENT' };
  };
}

/** A FILETIME `seconds` after 2026-11-24T08:00:00Z. */
export function ft(seconds: number): bigint {
  return 134_399_808_000_000_000n + BigInt(Math.round(seconds * 1e7));
}
