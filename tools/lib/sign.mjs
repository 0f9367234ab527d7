// Authenticode signing of Windows artifacts (upgrader exe, MSI, NSIS installer/uninstaller)
// through @electron/windows-sign. On Linux its bundled signtool.exe cannot run, so a hook
// function signs with osslsigncode; on Windows it calls signtool itself.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { sign } from '@electron/windows-sign';

const run = promisify(execFile);

/**
 * Signing settings from the environment: WINDOWS_CERTIFICATE_FILE (PKCS#12),
 * WINDOWS_CERTIFICATE_PASSWORD, optional WINDOWS_TIMESTAMP_URL. null when no certificate.
 */
export function signingFromEnv(env = process.env) {
  const certificateFile = env.WINDOWS_CERTIFICATE_FILE;
  if (!certificateFile) return null;
  if (!existsSync(certificateFile)) throw new Error(`WINDOWS_CERTIFICATE_FILE=${certificateFile} does not exist`);
  return {
    certificateFile,
    certificatePassword: env.WINDOWS_CERTIFICATE_PASSWORD ?? '',
    timestampServer: env.WINDOWS_TIMESTAMP_URL || undefined,
    description: env.WINDOWS_SIGN_DESCRIPTION || 'llm-upgrade',
  };
}

/** osslsigncode in place: sign to a sibling file, then rename over the original. */
export async function osslsign(file, settings) {
  const out = `${file}.signed`;
  const args = [
    'sign',
    '-pkcs12',
    settings.certificateFile,
    '-pass',
    settings.certificatePassword,
    '-n',
    settings.description,
    '-h',
    'sha256',
  ];
  if (settings.timestampServer) args.push('-ts', settings.timestampServer);
  args.push('-in', file, '-out', out);
  try {
    await run('osslsigncode', args, { maxBuffer: 16 << 20 });
    await rename(out, file);
  } catch (e) {
    await rm(out, { force: true });
    throw new Error(`osslsigncode could not sign ${file}: ${e.stderr || e.message}`);
  }
}

/**
 * Signs every file; returns [{ file, signed, reason? }]. Without settings nothing is signed and
 * each file says why — the caller marks the artifacts unsigned, it does not fail.
 */
export async function signWindowsFiles(files, settings) {
  if (!settings)
    return files.map((file) => ({
      file,
      signed: false,
      reason: 'no certificate (set WINDOWS_CERTIFICATE_FILE and WINDOWS_CERTIFICATE_PASSWORD)',
    }));
  const useSigntool = process.platform === 'win32';
  await sign({
    files,
    certificateFile: settings.certificateFile,
    certificatePassword: settings.certificatePassword,
    ...(settings.timestampServer ? { timestampServer: settings.timestampServer } : {}),
    description: settings.description,
    // HASHES is a const enum (types only): its sha256 member is the string 'sha256'.
    hashes: /** @type {any} */ (['sha256']),
    ...(useSigntool ? {} : { hookFunction: (file) => osslsign(file, settings) }),
  });
  return files.map((file) => ({ file, signed: true }));
}

/** True when `osslsigncode verify` accepts the file against the given CA certificate (PEM). */
export async function verifySignature(file, caPem) {
  try {
    await run('osslsigncode', ['verify', '-CAfile', caPem, '-in', file]);
    return true;
  } catch {
    return false;
  }
}
