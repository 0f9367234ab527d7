import { DEFAULT_INNO_LOG_FILE_NAME, DEFAULT_MSI_LOG_FILE_NAME, DEFAULT_NSIS_LOG_FILE_NAME } from './contract.js';
import { LlmUpgradeError } from '@llm-upgrade/core';

/** One description of a product; the MSI source and the NSIS include are rendered from it. */
export interface InstallerDescription {
  productName: string;
  manufacturer: string;
  /** MSI ProductVersion: major.minor.build (major, minor ≤ 255; build ≤ 65535). */
  version: string;
  /** The MSI UpgradeCode, a GUID that stays the same for every version of the product. */
  upgradeCode: string;
  /** Directory whose contents are installed (files only; empty directories are not kept). */
  payloadDir: string;
  /** Folder name under Program Files (MSI INSTALLDIR, NSIS default $INSTDIR). */
  installDirName: string;
  /** The compiled win32 upgrader (out/sea/llm-upgrade-win32-x64.exe) to embed. */
  upgraderExe: string;
  /** Extra arguments after `stop --install-dir … --log-file … --yes`, e.g. ['--timeout', '60s']. */
  upgraderArgs?: string[];
  /** File name of the JSON-lines log in the installing user's %TEMP%. */
  logFileName?: string;
}

export interface ResolvedDescription extends Required<InstallerDescription> {
  upgradeCode: string;
}

/** An invalid installer description: ERR_BAD_DESCRIPTION (exit 2), naming the field. */
export class DescriptionError extends LlmUpgradeError<'ERR_BAD_DESCRIPTION'> {
  constructor(field: keyof InstallerDescription, message: string) {
    super({
      code: 'ERR_BAD_DESCRIPTION',
      message: `installer description: ${String(field)}: ${message}`,
      hint: `Fix "${String(field)}" in the installer description (packages/installer-hooks/README.md lists the fields).`,
      phase: 'usage',
      changed: false,
      details: { field: String(field) },
    });
    this.name = 'DescriptionError';
  }
}

const GUID = /^\{?[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}?$/;
/** Characters that are markup in MSI formatted text, NSIS strings or a Windows command line. */
const UNSAFE_ARG = /["'`$[\]{}\r\n\t%]/;
const UNSAFE_NAME = /[<>:"/\\|?*\r\n\t[\]{}$]/;

export function checkVersion(version: string): void {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
  if (!m) throw new DescriptionError('version', `"${version}" is not major.minor.build (MSI versions have no pre-release part)`);
  const [major, minor, build] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (major > 255 || minor > 255 || build > 65535) {
    throw new DescriptionError('version', `"${version}" is out of range (major and minor ≤ 255, build ≤ 65535)`);
  }
}

/** Validate and fill defaults. `flavor` picks the default log file name. */
export function resolveDescription(d: InstallerDescription, flavor: 'msi' | 'nsis' | 'inno'): ResolvedDescription {
  for (const field of ['productName', 'manufacturer', 'payloadDir', 'installDirName', 'upgraderExe'] as const) {
    if (typeof d[field] !== 'string' || d[field].trim() === '') throw new DescriptionError(field, 'is required');
  }
  checkVersion(d.version);
  if (!GUID.test(d.upgradeCode)) throw new DescriptionError('upgradeCode', `"${d.upgradeCode}" is not a GUID`);
  if (UNSAFE_NAME.test(d.installDirName)) throw new DescriptionError('installDirName', `"${d.installDirName}" is not a plain folder name`);
  const logFileName =
    d.logFileName ?? { msi: DEFAULT_MSI_LOG_FILE_NAME, nsis: DEFAULT_NSIS_LOG_FILE_NAME, inno: DEFAULT_INNO_LOG_FILE_NAME }[flavor];
  if (UNSAFE_NAME.test(logFileName)) throw new DescriptionError('logFileName', `"${logFileName}" is not a plain file name`);
  const upgraderArgs = d.upgraderArgs ?? [];
  for (const a of upgraderArgs) {
    if (UNSAFE_ARG.test(a) || a === '')
      throw new DescriptionError(
        'upgraderArgs',
        `argument ${JSON.stringify(a)} is empty or contains a character that MSI, NSIS or the command line would interpret`,
      );
  }
  const guid = d.upgradeCode.replace(/^\{|\}$/g, '').toUpperCase();
  return { ...d, upgradeCode: `{${guid}}`, upgraderArgs, logFileName };
}
