import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import type { InstallerDescription } from './description.js';
import { resolveDescription } from './description.js';
import { renderInnoIncludeFor, renderInnoScript } from './inno.js';
import { runTool } from './run-tool.js';
import { currentOs } from '@llm-upgrade/core';

/** The sign tool name the rendered script uses (ISCC `/S<name>=<command>`). */
export const INNO_SIGN_TOOL_NAME = 'llmupgradesign';

export interface InnoSignCommand {
  /** A program of this machine (on Linux a Linux program: Wine runs it natively). */
  command: string;
  /** `{file}` becomes the file to sign in place, `{kind}` `installer` or `uninstaller`. */
  args: string[];
  /** Extra environment for the command. */
  env?: Record<string, string>;
}

export interface BuildInnoOptions {
  outFile: string;
  workDir?: string;
  /** ISCC.exe; default: the `innosetup` npm package's. */
  iscc?: string;
  /** Linux: the Wine environment (WINEPREFIX…) to run ISCC in; default a temp prefix, removed after. */
  wineEnv?: NodeJS.ProcessEnv;
  /** `zip/1` (default: quick for an 85 MB upgrader), `lzma2/max`, … */
  compression?: string;
  /** Signs Setup and its uninstaller (SignedUninstaller=yes) while ISCC builds. */
  sign?: InnoSignCommand;
  timeoutMs?: number;
}

export interface BuildInnoResult {
  outFile: string;
  issFile: string | undefined;
  bytes: number;
}

/** ISCC.exe of the `innosetup` package (Inno Setup 6.4.1), or null when it is not installed. */
export function findIscc(): string | null {
  try {
    const pkg = createRequire(import.meta.url).resolve('innosetup/package.json');
    const exe = join(dirname(pkg), 'bin', 'ISCC.exe');
    return existsSync(exe) ? exe : null;
  } catch {
    return null;
  }
}

/** A path of this machine as the Windows side sees it: itself on Windows, Wine's Z: drive on Linux. */
export function windowsPathOf(path: string): string {
  const abs = resolve(path);
  return currentOs() === 'win32' ? abs : `Z:${abs.replace(/\//g, '\\')}`;
}

const shQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * ISCC runs the sign tool with a Windows path. Wine starts a Linux program natively but
 * without a process handle to wait on, so ISCC would check the signature before it exists:
 * a batch file starts the Linux signer (which turns the path back into a Linux one) and
 * waits for the marker file it writes when done.
 */
function writeSignScripts(dir: string, sign: InnoSignCommand): string {
  const sh = join(dir, 'inno-sign.sh');
  const args = sign.args.map((a) => (a === '{file}' ? '"$f"' : a === '{kind}' ? '"$kind"' : shQuote(a))).join(' ');
  const env = Object.entries(sign.env ?? {})
    .map(([k, v]) => `export ${k}=${shQuote(v)}`)
    .join('\n');
  writeFileSync(
    sh,
    `#!/bin/sh
case "$1" in
  [Zz]:*) f=$(printf '%s' "\${1#??}" | tr '\\\\' '/') ;;
  *) f=$(winepath -u "$1") ;;
esac
case "$(basename "$f")" in uninst*) kind=uninstaller ;; *) kind=installer ;; esac
${env}
if ${shQuote(sign.command)} ${args} > "$f.sign-log" 2>&1; then touch "$f.signed-ok"; else touch "$f.signed-failed"; fi
`,
    { mode: 0o700 },
  );
  chmodSync(sh, 0o700);
  const cmd = join(dir, 'inno-sign.cmd');
  writeFileSync(
    cmd,
    [
      '@echo off',
      'del "%~1.signed-ok" "%~1.signed-failed" "%~1.sign-log" 2>nul',
      `"${windowsPathOf(sh)}" "%~1"`,
      ':wait',
      'if exist "%~1.signed-ok" goto ok',
      'if exist "%~1.signed-failed" goto failed',
      'ping -n 2 127.0.0.1 >nul 2>nul',
      'goto wait',
      ':ok',
      'del "%~1.signed-ok" "%~1.sign-log" 2>nul',
      'exit /b 0',
      ':failed',
      'type "%~1.sign-log"',
      'del "%~1.signed-failed" "%~1.sign-log" 2>nul',
      'exit /b 1',
      '',
    ].join('\r\n'),
  );
  return cmd;
}

/**
 * wineserver leaves `<tmp>/wine-XXXXXX/server-<dev>-<inode>/` for a prefix (named after the
 * prefix directory's device and inode): remove ours once it has exited.
 */
function removeWineServerDir(prefix: string): void {
  let name: string;
  try {
    const st = statSync(prefix);
    name = `server-${st.dev.toString(16)}-${st.ino.toString(16)}`;
  } catch {
    return;
  }
  for (const tmp of new Set([tmpdir(), '/tmp'])) {
    let entries: string[];
    try {
      entries = readdirSync(tmp).filter((e) => e.startsWith('wine-'));
    } catch {
      continue;
    }
    for (const entry of entries) {
      const server = join(tmp, entry, name);
      if (!existsSync(server)) continue;
      rmSync(server, { recursive: true, force: true });
      try {
        if (readdirSync(join(tmp, entry)).length === 0) rmSync(join(tmp, entry), { recursive: true, force: true });
      } catch {
        // another process's dir, or already gone
      }
    }
  }
}

/** The given Wine environment, or a throw-away prefix (~700 MB, removed after). */
async function withWine<T>(given: NodeJS.ProcessEnv | undefined, fn: (env: NodeJS.ProcessEnv) => Promise<T>): Promise<T> {
  if (currentOs() === 'win32') return fn(process.env);
  if (given) return fn(given);
  const dir = mkdtempSync(join(tmpdir(), 'llm-upgrade-iscc-wine-'));
  const prefix = join(dir, 'prefix');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    WINEPREFIX: prefix,
    WINEDEBUG: '-all',
    WINEDLLOVERRIDES: 'mscoree,mshtml=',
    WINEARCH: 'win64',
  };
  delete env.DISPLAY;
  try {
    return await fn(env);
  } finally {
    await runTool('wineserver', ['-k'], { env, timeoutMs: 30_000 }).catch(() => undefined);
    await runTool('wineserver', ['-w'], { env, timeoutMs: 30_000 }).catch(() => undefined);
    removeWineServerDir(prefix);
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

export interface CompileInnoOptions {
  /** Where the sign scripts go (default: next to the script). */
  workDir?: string;
  iscc?: string;
  wineEnv?: NodeJS.ProcessEnv;
  /** Defines the sign tool `llmupgradesign` for a script that says `SignTool=llmupgradesign`. */
  sign?: InnoSignCommand;
  timeoutMs?: number;
}

/** Runs ISCC on any .iss (output: /O and /F from outFile); under Wine on Linux. */
export async function compileInnoScript(issFile: string, outFile: string, opts: CompileInnoOptions = {}): Promise<void> {
  const iscc = opts.iscc ?? findIscc();
  if (!iscc) throw new Error('ISCC.exe not found: install the innosetup npm package (npm ci) or pass iscc');
  const work = resolve(opts.workDir ?? dirname(issFile));
  const args = ['/Q', `/O${windowsPathOf(dirname(resolve(outFile)))}`, `/F${basename(outFile).replace(/\.exe$/i, '')}`];
  if (opts.sign) {
    if (currentOs() === 'win32')
      throw new Error(
        'compileInnoScript: signing is implemented for Linux (osslsigncode through Wine); on Windows define your signtool in the script',
      );
    args.push(`/S${INNO_SIGN_TOOL_NAME}=cmd /c ${windowsPathOf(writeSignScripts(work, opts.sign))} $f`);
  }
  args.push(windowsPathOf(issFile));
  const timeoutMs = opts.timeoutMs ?? 600_000;
  await withWine(opts.wineEnv, (env) =>
    currentOs() === 'win32'
      ? runTool(iscc, args, { cwd: work, timeoutMs })
      : runTool('wine', [iscc, ...args], { cwd: work, env, timeoutMs }),
  );
}

/**
 * Renders the include and an Ollama-shaped per-user script from the description and runs
 * ISCC (under Wine on Linux: ISCC.exe is 32-bit, so Wine needs wine32).
 */
export async function buildInno(description: InstallerDescription, opts: BuildInnoOptions): Promise<BuildInnoResult> {
  const d = resolveDescription(description, 'inno');
  const upgraderExe = resolve(d.upgraderExe);
  if (!statSync(upgraderExe).isFile()) throw new Error(`${upgraderExe}: the upgrader exe is not a file`);
  const outFile = resolve(opts.outFile);
  if (!/\.exe$/i.test(outFile)) throw new Error(`${outFile}: an Inno Setup installer's name ends in .exe`);
  const keepWork = opts.workDir !== undefined;
  const work = keepWork ? resolve(opts.workDir!) : mkdtempSync(join(tmpdir(), 'llm-upgrade-inno-'));
  try {
    mkdirSync(work, { recursive: true });
    mkdirSync(dirname(outFile), { recursive: true });
    rmSync(outFile, { force: true });
    writeFileSync(join(work, 'llm-upgrade.iss'), renderInnoIncludeFor(d));
    const issFile = join(work, 'setup.iss');
    const signTool = opts.sign ? INNO_SIGN_TOOL_NAME : undefined;
    writeFileSync(
      issFile,
      renderInnoScript(d, {
        payloadDir: windowsPathOf(d.payloadDir),
        upgraderExe: windowsPathOf(upgraderExe),
        ...(opts.compression ? { compression: opts.compression } : {}),
        ...(signTool ? { signTool } : {}),
      }),
    );
    await compileInnoScript(issFile, outFile, { ...opts, workDir: work });
    if (!existsSync(outFile)) throw new Error(`ISCC exited 0 but ${outFile} is missing`);
    return { outFile, issFile: keepWork ? issFile : undefined, bytes: statSync(outFile).size };
  } catch (e) {
    rmSync(outFile, { force: true });
    throw e;
  } finally {
    if (!keepWork) rmSync(work, { recursive: true, force: true });
  }
}
