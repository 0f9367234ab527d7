import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, lstat, mkdir, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runProcess, sh } from '@llm-upgrade/testkit';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = join(REPO, 'packages/upgrader/dist/cli/main.js');

/** The integration tests drive the built CLI (the lead's `npm test` builds first); build it if it is missing. */
export function ensureBuilt(): void {
  if (existsSync(CLI) && existsSync(join(REPO, 'packages/core/dist/index.js'))) return;
  execFileSync('npx', ['tsc', '-p', 'packages/core/tsconfig.build.json'], { cwd: REPO, stdio: 'inherit' });
  execFileSync('npx', ['tsc', '-p', 'packages/upgrader/tsconfig.build.json'], { cwd: REPO, stdio: 'inherit' });
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  json: any;
}

/** Runs `llm-upgrade args...` as a child process (stdin not a TTY, so --yes is implied). */
export async function runCli(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; onSpawn?: (pid: number) => void } = {},
): Promise<CliRun> {
  const r = await runProcess(process.execPath, [CLI, ...args], {
    env: { ...process.env, NO_COLOR: '1', ...opts.env },
    timeoutMs: opts.timeoutMs ?? 90_000,
    ...(opts.onSpawn ? { onSpawn: opts.onSpawn } : {}),
  });
  let json: any;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    json = undefined;
  }
  return { ...r, json };
}

/** Every entry under dir (type, mode, content hash or link target), as one comparable string. */
export async function treeDigest(dir: string, opts: { skipState?: boolean } = {}): Promise<string> {
  const lines: string[] = [];
  const visit = async (rel: string): Promise<void> => {
    let names: string[];
    try {
      names = (await readdir(rel ? join(dir, rel) : dir)).sort();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !rel) {
        lines.push('(absent)');
        return;
      }
      throw e;
    }
    for (const name of names) {
      if (!rel && opts.skipState && name === '.llm-upgrade') continue;
      const p = rel ? `${rel}/${name}` : name;
      const st = await lstat(join(dir, p));
      if (st.isDirectory()) {
        lines.push(`d ${p} ${(st.mode & 0o7777).toString(8)}`);
        await visit(p);
      } else if (st.isSymbolicLink()) lines.push(`l ${p} -> ${await readlink(join(dir, p))}`);
      else
        lines.push(
          `f ${p} ${(st.mode & 0o7777).toString(8)} ${createHash('sha256')
            .update(await readFile(join(dir, p)))
            .digest('hex')}`,
        );
    }
  };
  await visit('');
  return lines.join('\n');
}

/** A small product tree: bin/tool (prints "<name> version is V"), libs, a data file, a link. */
export async function makeProductDir(dir: string, version: string, extra: Record<string, string> = {}): Promise<string> {
  await mkdir(join(dir, 'bin'), { recursive: true });
  await mkdir(join(dir, 'lib', 'sub'), { recursive: true });
  await writeFile(join(dir, 'bin', 'tool'), `#!/bin/sh\necho "tool version is ${version}"\n`);
  await chmod(join(dir, 'bin', 'tool'), 0o755);
  await writeFile(join(dir, 'lib', 'libcore.so'), `core ${version}\n`.repeat(100));
  await writeFile(join(dir, 'lib', 'sub', 'data.bin'), Buffer.alloc(4096, version.length));
  await writeFile(join(dir, 'README'), `readme ${version}\n`);
  for (const [p, content] of Object.entries(extra)) {
    await mkdir(join(dir, p, '..'), { recursive: true });
    await writeFile(join(dir, p), content);
  }
  return dir;
}

export { sh };

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
