/**
 * The custom-action contract between an installer and the compiled upgrader: what the
 * installer runs, when, with which arguments, where the record goes, and what each exit
 * code means. MSI and NSIS are rendered from these values, and integrators read them here.
 */
import { EXIT } from '@llm-upgrade/core';

/**
 * Exit codes of `llm-upgrade stop` an installer acts on, and nothing else: the values are
 * core's one table (packages/core/src/errors.ts, docs/design.md "Exit codes").
 */
export const HOOK_EXIT = {
  /** Nothing under the install dir runs or holds a file: go on. */
  ok: EXIT.ok,
  /** The upgrader itself failed. The MSI fails (1603); NSIS offers retry/cancel. */
  internal: EXIT.internal,
  /** Bad arguments: an installer authoring error. */
  badInput: EXIT.badInput,
  /** A process survived the timeout or a file is still held; the log names pid, exe and file. */
  held: EXIT.held,
  /** Another llm-upgrade holds the install's lock. */
  locked: EXIT.locked,
} as const;
export type HookExitCode = (typeof HOOK_EXIT)[keyof typeof HOOK_EXIT];

/** Custom action type bits (Windows Installer SDK, msidbCustomActionType*). */
export const MSI_CA_BITS = {
  /** msidbCustomActionTypeExe + msidbCustomActionTypeBinaryData: an EXE stored in the Binary table. */
  exeInBinaryTable: 0x0002,
  /** msidbCustomActionTypeContinue: ignore the exit code (Return="ignore"). */
  continueOnError: 0x0040,
  /** msidbCustomActionTypeInScript: deferred, runs from the install script. */
  inScript: 0x0400,
  /** msidbCustomActionTypeNoImpersonate: runs as LocalSystem in a per-machine install. */
  noImpersonate: 0x0800,
} as const;

/** Binary table key of the embedded upgrader. */
export const MSI_BINARY_KEY = 'LlmUpgradeExe';

/**
 * Runs on a first install (an unmanaged copy may already be running from the target
 * directory), on a major upgrade (the new product is not installed yet), on a repair
 * (REINSTALL rewrites files) and on uninstall.
 */
export const MSI_RUN_CONDITION = 'NOT Installed OR REINSTALL OR REMOVE~="ALL"';

/**
 * Sequence numbers. wixl's standard actions: CostFinalize 1000, InstallValidate 1400,
 * InstallInitialize 1500, ProcessComponents 1600, RemoveFiles 3500, InstallFiles 4000.
 * wixl's Before/After placement is not deterministic, so every row gets a number.
 */
export const MSI_SEQUENCE = {
  costFinalize: 1000,
  bestEffortStop: 1399,
  installValidate: 1400,
  installInitialize: 1500,
  authoritativeStop: 1501,
  removeExistingProducts: 1502,
  processComponents: 1600,
  removeFiles: 3500,
  installFiles: 4000,
} as const;

export interface MsiCustomActionSpec {
  action: string;
  type: number;
  sequence: number;
  condition: string;
  /** The WiX attributes a WiX-toolset user would write for the same row. */
  wix: { Execute: 'immediate' | 'deferred'; Impersonate: 'yes' | 'no'; Return: 'ignore' | 'check' };
}

/**
 * Before InstallValidate: immediate and ignored, so the files-in-use check (and its
 * dialog) sees nothing running. 2 + 64 = 66.
 */
export const MSI_BEST_EFFORT_STOP: MsiCustomActionSpec = {
  action: 'LlmUpgradeStopBestEffort',
  type: MSI_CA_BITS.exeInBinaryTable | MSI_CA_BITS.continueOnError,
  sequence: MSI_SEQUENCE.bestEffortStop,
  condition: MSI_RUN_CONDITION,
  wix: { Execute: 'immediate', Impersonate: 'yes', Return: 'ignore' },
};

/**
 * The authoritative stop: deferred, no impersonation (sees and may end every user's and
 * the service's processes), exit code checked, so a survivor fails the install (1603)
 * before RemoveExistingProducts or InstallFiles touch a file. 2 + 1024 + 2048 = 3074.
 */
export const MSI_AUTHORITATIVE_STOP: MsiCustomActionSpec = {
  action: 'LlmUpgradeStop',
  type: MSI_CA_BITS.exeInBinaryTable | MSI_CA_BITS.inScript | MSI_CA_BITS.noImpersonate,
  sequence: MSI_SEQUENCE.authoritativeStop,
  condition: MSI_RUN_CONDITION,
  wix: { Execute: 'deferred', Impersonate: 'no', Return: 'check' },
};

/** Log files: one JSON line per event, appended by both MSI actions (or the NSIS macro). */
export const DEFAULT_MSI_LOG_FILE_NAME = 'llm-upgrade-msi.log';
export const DEFAULT_NSIS_LOG_FILE_NAME = 'llm-upgrade-nsis.log';
export const DEFAULT_INNO_LOG_FILE_NAME = 'llm-upgrade-inno.log';

/**
 * Inno Setup: what Setup and the uninstaller return when the hook refuses. Setup's 7 is
 * "the Preparing to Install stage determined that Setup cannot proceed" (PrepareToInstall
 * returned a message); nothing has been deleted or replaced at that point.
 */
export const INNO_EXIT = {
  ok: 0,
  prepareToInstallFailed: 7,
} as const;

/** Name of the upgrader copy an Inno install keeps for its uninstaller ({app}\…). */
export const INNO_KEPT_UPGRADER = 'llm-upgrade.exe';

/** MSI: next to the MSI's own verbose logs in the installing user's %TEMP%. */
export function msiLogPath(logFileName: string = DEFAULT_MSI_LOG_FILE_NAME): string {
  return `[TempFolder]${logFileName}`;
}

/** NSIS: the installing user's %TEMP%. */
export function nsisLogPath(logFileName: string = DEFAULT_NSIS_LOG_FILE_NAME): string {
  return `$TEMP\\${logFileName}`;
}

/** Bounds of the MSI CustomAction.Target column (S255). */
export const MSI_TARGET_MAX_CHARS = 255;

/** Arguments every hook passes after the command; `--yes` because nobody can answer a prompt. */
export const HOOK_FIXED_ARGS = ['--yes'] as const;

/** At the end of every hook's command line: before a first install the directory does not exist yet, which is nothing to stop (without it, `stop` calls a missing root a typo: exit 2). */
export const HOOK_TRAILING_ARGS = ['--missing-ok'] as const;

/** The best-effort immediate MSI action gives up after this; the deferred action does the real work. */
export const MSI_BEST_EFFORT_TIMEOUT = '5s';
