import { HOOK_FIXED_ARGS, HOOK_TRAILING_ARGS, MSI_BEST_EFFORT_TIMEOUT, MSI_TARGET_MAX_CHARS, msiLogPath, nsisLogPath } from './contract.js';
import type { ResolvedDescription } from './description.js';
import { quoteDirWithTrailingSeparator, quoteWindowsArg } from './quoting.js';

/**
 * The MSI CustomAction.Target (the upgrader's command line, without the exe). Formatted
 * text: [INSTALLDIR] and [TempFolder] are expanded by Windows Installer — for the deferred
 * action when the action is written to the install script, so it needs no CustomActionData.
 */
export function msiStopArguments(d: ResolvedDescription, bestEffort = false): string {
  const target = [
    'stop',
    '--install-dir',
    quoteDirWithTrailingSeparator('[INSTALLDIR]'),
    '--log-file',
    `"${msiLogPath(d.logFileName)}"`,
    ...HOOK_FIXED_ARGS,
    ...d.upgraderArgs.map(quoteWindowsArg),
    // Last, so it wins: the immediate action only clears the way for InstallValidate's
    // files-in-use check; the deferred one is authoritative and keeps the full timeout.
    ...(bestEffort ? ['--timeout', MSI_BEST_EFFORT_TIMEOUT] : []),
    ...HOOK_TRAILING_ARGS,
  ].join(' ');
  if (target.length > MSI_TARGET_MAX_CHARS) {
    throw new Error(
      `the MSI custom action command line is ${target.length} characters; CustomAction.Target holds ${MSI_TARGET_MAX_CHARS}: shorten upgraderArgs or logFileName`,
    );
  }
  return target;
}

/**
 * NSIS: the same command for $INSTDIR. --quiet leaves only warnings (what still runs, what
 * still holds a file) on the output the macro shows in its message box.
 */
export function nsisStopArguments(d: ResolvedDescription): string {
  return [
    'stop',
    '--install-dir',
    quoteDirWithTrailingSeparator('$INSTDIR\\'),
    '--log-file',
    `"${nsisLogPath(d.logFileName)}"`,
    ...HOOK_FIXED_ARGS,
    '--quiet',
    ...d.upgraderArgs.map(quoteWindowsArg),
    ...HOOK_TRAILING_ARGS,
  ].join(' ');
}
