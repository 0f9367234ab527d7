import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { InstallerDescription } from './description.js';
import { resolveDescription } from './description.js';
import { binaryTableIdt, customActionQueries } from './msi-tables.js';
import { readPayload } from './payload.js';
import { runTool } from './run-tool.js';
import { renderWixSource } from './wix.js';

export interface BuildMsiOptions {
  outFile: string;
  /** Where product.wxs and the Binary IDT are written; a temp dir (removed) if omitted. */
  workDir?: string;
  wixl?: string;
  msibuild?: string;
}

export interface BuildMsiResult {
  outFile: string;
  wxsFile: string | undefined;
  fileCount: number;
  bytes: number;
}

/**
 * wixl (with G_DEBUG=fatal-criticals, so a dropped row fails the build instead of printing
 * CRITICAL) run from the payload dir with relative sources, then msibuild adds the
 * upgrader to the Binary table and the two custom actions with their sequence rows.
 */
export async function buildMsi(description: InstallerDescription, opts: BuildMsiOptions): Promise<BuildMsiResult> {
  const d = resolveDescription(description, 'msi');
  const payloadDir = resolve(d.payloadDir);
  const upgraderExe = resolve(d.upgraderExe);
  if (!statSync(upgraderExe).isFile()) throw new Error(`${upgraderExe}: the upgrader exe is not a file`);
  const outFile = resolve(opts.outFile);
  const keepWork = opts.workDir !== undefined;
  const work = keepWork ? resolve(opts.workDir!) : mkdtempSync(join(tmpdir(), 'llm-upgrade-msi-'));
  try {
    mkdirSync(work, { recursive: true });
    mkdirSync(dirname(outFile), { recursive: true });
    rmSync(outFile, { force: true });
    const { wxs, fileCount } = renderWixSource(d, readPayload(payloadDir));
    const wxsFile = join(work, 'product.wxs');
    writeFileSync(wxsFile, wxs);
    const env = { ...process.env, G_DEBUG: 'fatal-criticals' };
    await runTool(opts.wixl ?? 'wixl', ['-a', 'x64', '-o', outFile, wxsFile], { cwd: payloadDir, env });

    const idtDir = join(work, 'idt');
    const { idt, streamFile } = binaryTableIdt();
    mkdirSync(join(idtDir, dirname(streamFile)), { recursive: true });
    writeFileSync(join(idtDir, 'Binary.idt'), idt);
    copyFileSync(upgraderExe, join(idtDir, streamFile));
    const msibuild = opts.msibuild ?? 'msibuild';
    await runTool(msibuild, [outFile, '-i', 'Binary.idt'], { cwd: idtDir, env });
    await runTool(msibuild, [outFile, ...customActionQueries(d).flatMap((q) => ['-q', q])], { env });
    return { outFile, wxsFile: keepWork ? wxsFile : undefined, fileCount, bytes: statSync(outFile).size };
  } catch (e) {
    rmSync(outFile, { force: true });
    throw e;
  } finally {
    if (!keepWork) rmSync(work, { recursive: true, force: true });
  }
}
