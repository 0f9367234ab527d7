import { execFile } from 'node:child_process';
import { LlmUpgradeError } from '@llm-upgrade/core';

export interface ToolResult {
  stdout: string;
  stderr: string;
}

/** A build tool (wixl, msibuild, makensis, ISCC, osslsigncode) failed or is missing: ERR_TOOL_FAILED. */
export class ToolError extends LlmUpgradeError<'ERR_TOOL_FAILED'> {
  constructor(
    readonly tool: string,
    /** The tool's own exit status (null: it did not start or was killed); `exitCode` is ours. */
    readonly toolExitCode: number | null,
    readonly stderr: string,
    message: string,
    hint = `Read ${tool}'s output above; the installer source it was given is kept beside the output.`,
  ) {
    super({
      code: 'ERR_TOOL_FAILED',
      message,
      hint,
      phase: 'build',
      changed: false,
      details: { tool, exitCode: toolExitCode, stderr: stderr.slice(-4000) },
    });
    this.name = 'ToolError';
  }
}

/** Run an external build tool (wixl, msibuild, makensis) and fail with its own words. */
export function runTool(
  tool: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    execFile(
      tool,
      args,
      { cwd: opts.cwd, env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 600_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) {
          const code = typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null;
          const missing = (err as { code?: unknown }).code === 'ENOENT';
          const why = missing
            ? `${tool} is not installed (run \`npm run setup\` or apt-get install wixl msitools nsis)`
            : `${tool} ${args.join(' ')} failed (exit ${code ?? err.message})`;
          const hint = missing
            ? 'Run `npm run setup` (or apt-get install wixl msitools nsis osslsigncode wine), then build again.'
            : undefined;
          reject(
            new ToolError(
              tool,
              code,
              String(stderr),
              `${why}${stderr ? `:\n${String(stderr).trim().split('\n').slice(-15).join('\n')}` : ''}`,
              hint,
            ),
          );
          return;
        }
        resolve({ stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}
