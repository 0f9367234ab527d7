import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile, rename, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Path of the fake runner's C source: `$LLM_UPGRADE_FAKE_RUNNER_C` when set (needed when this
 * module is bundled elsewhere, e.g. by a demo or bench script), else `../fake-runner.c`.
 */
export function fakeRunnerSource(): string {
  return process.env.LLM_UPGRADE_FAKE_RUNNER_C || new URL('../fake-runner.c', import.meta.url).pathname;
}

export interface CompileOptions {
  /** Compiled in: `--version` prints `ollama version is <version>`, GET /api/version returns it. */
  version: string;
  /** Copy the binary into this directory (created if missing). Without it, the cached path is returned: never run that one. */
  outDir?: string;
  /** File name inside outDir (default `fake-runner`), e.g. `ollama`, `llama-server`, `ollama app`. */
  name?: string;
}

/**
 * Compiles fake-runner.c with `cc` (cached per version and source hash under the OS temp dir,
 * so a test file pays for it once) and optionally copies it to `outDir/name`. Returns the path.
 */
export async function compileFakeRunner(opts: CompileOptions): Promise<string> {
  if (!/^[\w.+-]+$/.test(opts.version)) throw new Error(`fake runner version "${opts.version}" must match [A-Za-z0-9_.+-]+`);
  const sourcePath = fakeRunnerSource();
  const source = await readFile(sourcePath);
  const hash = createHash('sha256').update(source).update(opts.version).digest('hex').slice(0, 16);
  const cacheDir = join(tmpdir(), 'llm-upgrade-fake-runner-cache');
  const cached = join(cacheDir, `fake-runner-${opts.version}-${hash}`);
  if (!(await exists(cached))) {
    await mkdir(cacheDir, { recursive: true });
    const partial = `${cached}.${process.pid}.tmp`;
    try {
      await run('cc', ['-O2', '-Wall', `-DVERSION="${opts.version}"`, '-o', partial, sourcePath]);
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      throw new Error(`cc could not compile ${sourcePath}: ${err.stderr || err.message}`);
    }
    await rename(partial, cached); // atomic: concurrent test files never run a half-written binary
  }
  if (!opts.outDir) return cached;
  await mkdir(opts.outDir, { recursive: true });
  const target = join(opts.outDir, opts.name ?? 'fake-runner');
  await copyFile(cached, target);
  await chmod(target, 0o755);
  return target;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
