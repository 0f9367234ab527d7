// node:child_process is loaded on the first command run: `holders` and most scans spawn nothing.
let childProcess: typeof import('node:child_process') | undefined;

/** What a finished (or failed to start) command left behind. Never thrown: callers decide. */
export interface ExecResult {
  /** Exit code; null when the command could not start, timed out or died by a signal. */
  code: number | null;
  stdout: string;
  stderr: string;
  /** ENOENT when the program is missing, ETIMEDOUT on timeout, or another spawn error code. */
  error?: string;
}

export interface ExecOptions {
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** Runs a program without a shell. Injected into the backends so tests can replay recorded output. */
export type Exec = (file: string, args: readonly string[], options?: ExecOptions) => Promise<ExecResult>;

const DEFAULT_TIMEOUT_MS = 15_000;

export const execFileText: Exec = async (file, args, options = {}) => {
  const { execFile } = (childProcess ??= await import('node:child_process'));
  return new Promise((resolve) => {
    const child = execFile(
      file,
      [...args],
      {
        timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        maxBuffer: 64 * 1024 * 1024,
        windowsHide: true,
        encoding: 'utf8',
        env: options.env ?? process.env,
      },
      (err, stdout, stderr) => {
        if (!err) {
          resolve({ code: 0, stdout, stderr });
          return;
        }
        const e = err as NodeJS.ErrnoException & { code?: string | number; killed?: boolean; signal?: string | null };
        if (typeof e.code === 'number') {
          resolve({ code: e.code, stdout: stdout ?? '', stderr: stderr ?? '' });
          return;
        }
        const error = e.killed && e.signal ? 'ETIMEDOUT' : (e.code ?? 'EFAILED');
        resolve({ code: null, stdout: stdout ?? '', stderr: stderr ?? '', error });
      },
    );
    // Nothing we run reads input; an open stdin pipe once kept taskkill waiting under Wine.
    child.stdin?.end();
  });
};
