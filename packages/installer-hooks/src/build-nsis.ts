import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { InstallerDescription } from './description.js';
import { resolveDescription } from './description.js';
import { renderNsisInclude } from './nsis.js';
import { runTool } from './run-tool.js';

/** installers/nsis/example.nsi in this repository. */
export const EXAMPLE_NSI = fileURLToPath(new URL('../../../installers/nsis/example.nsi', import.meta.url));

export interface BuildNsisOptions {
  outFile: string;
  /** The installer script; it must `!include "${LLM_UPGRADE_NSH}"`. Default: the example. */
  nsiFile?: string;
  workDir?: string;
  makensis?: string;
}

export interface BuildNsisResult {
  outFile: string;
  nshFile: string | undefined;
  bytes: number;
}

/** Render the include from the description and run makensis on the installer script. */
export async function buildNsis(description: InstallerDescription, opts: BuildNsisOptions): Promise<BuildNsisResult> {
  const d = resolveDescription(description, 'nsis');
  const upgraderExe = resolve(d.upgraderExe);
  if (!statSync(upgraderExe).isFile()) throw new Error(`${upgraderExe}: the upgrader exe is not a file`);
  const resolved = { ...d, upgraderExe, payloadDir: resolve(d.payloadDir) };
  const outFile = resolve(opts.outFile);
  const keepWork = opts.workDir !== undefined;
  const work = keepWork ? resolve(opts.workDir!) : mkdtempSync(join(tmpdir(), 'llm-upgrade-nsis-'));
  try {
    mkdirSync(work, { recursive: true });
    mkdirSync(dirname(outFile), { recursive: true });
    rmSync(outFile, { force: true });
    const nshFile = join(work, 'llm-upgrade.nsh');
    writeFileSync(nshFile, renderNsisInclude(resolved));
    const defines: Record<string, string> = {
      PRODUCT_NAME: d.productName,
      PRODUCT_VERSION: d.version,
      MANUFACTURER: d.manufacturer,
      INSTALL_DIR_NAME: d.installDirName,
      PAYLOAD_DIR: resolved.payloadDir,
      OUT_FILE: outFile,
      LLM_UPGRADE_EXE: upgraderExe,
      LLM_UPGRADE_NSH: nshFile,
    };
    const args = [
      '-V2',
      '-INPUTCHARSET',
      'UTF8',
      ...Object.entries(defines).map(([k, v]) => `-D${k}=${v}`),
      resolve(opts.nsiFile ?? EXAMPLE_NSI),
    ];
    await runTool(opts.makensis ?? 'makensis', args, { cwd: work });
    return { outFile, nshFile: keepWork ? nshFile : undefined, bytes: statSync(outFile).size };
  } catch (e) {
    rmSync(outFile, { force: true });
    throw e;
  } finally {
    if (!keepWork) rmSync(work, { recursive: true, force: true });
  }
}
