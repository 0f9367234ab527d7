#!/usr/bin/env node
// makensis's !finalize / !uninstfinalize command during a release (and ISCC's sign tool for the
// Inno Setup installer, through the Wine-side wrapper of installer-hooks' buildInno):
//   node nsis-sign.mjs FILE installer|uninstaller [RECORD_DIR]
// Signs FILE with the certificate from the environment (tools/lib/sign.mjs). The uninstaller
// only exists inside the installer, so a copy of the signed one is kept in RECORD_DIR for the
// summary and for `osslsigncode verify`. The release adds these lines only when a certificate
// is set, so an unsigned result here is an error that fails the build.
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { signWindowsFiles, signingFromEnv } from '../sign.mjs';

const [file, kind, recordDir] = process.argv.slice(2);
if (!file || (kind !== 'installer' && kind !== 'uninstaller')) {
  console.error('usage: nsis-sign.mjs FILE installer|uninstaller [RECORD_DIR]');
  process.exit(2);
}
try {
  const [result] = await signWindowsFiles([file], signingFromEnv());
  if (!result.signed) throw new Error(result.reason);
  if (recordDir) {
    await mkdir(recordDir, { recursive: true });
    await copyFile(file, join(recordDir, kind === 'uninstaller' ? 'uninstall.exe' : 'setup.exe'));
  }
} catch (e) {
  console.error(`nsis-sign: could not sign the ${kind} ${file}: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
}
