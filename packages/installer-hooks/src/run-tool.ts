import { execFile } from 'node:child_process';

export interface ToolResult {
  stdout: string;
  stderr: string;
}

export class ToolError extends Error {
  constructor(
    readonly tool: string,
    readonly exitCode: number | null,
    readonly stderr: string,
    message: string,
  ) {
    super(message);
    this.name = 'ToolError';
  }
}

/** Run an external build tool (wixl, msibuild, makensis) and fail with its own words. */
export function runTool(tool: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    execFile(tool, args, { cwd: opts.cwd, env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 600_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const code = typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : null;
        const missing = (err as { code?: unknown }).code === 'ENOENT';
        const why = missing ? `${tool} is not installed (run \`npm run setup\` or apt-get install wixl msitools nsis)` : `${tool} ${args.join(' ')} failed (exit ${code ?? err.message})`;
        reject(new ToolError(tool, code, String(stderr), `${why}${stderr ? `:\n${String(stderr).trim().split('\n').slice(-15).join('\n')}` : ''}`));
        return;
      }
      resolve({ stdout: String(stdout), stderr: String(stderr) });
    });
  });
}
