import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type LlmUpgradeError, errors } from '@llm-upgrade/core';
import { MANIFEST_NAME, SIGNATURE_NAME } from './paths.js';

// Ed25519 SPKI DER = this 12-byte prefix + the raw 32-byte key.
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
// Ed25519 PKCS#8 DER = this 16-byte prefix + the raw 32-byte seed.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function sigError(message: string, hint: string): LlmUpgradeError {
  return errors.signatureError({ message, hint, phase: 'verify', changed: false });
}

/** A public key from text: PEM, or base64 of the raw 32 bytes or of SPKI DER. */
export function parsePublicKey(text: string, where: string): KeyObject {
  const t = text.trim();
  try {
    if (t.includes('-----BEGIN')) return createPublicKey(t);
    const der = Buffer.from(t, 'base64');
    if (der.length === 32) return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, der]), format: 'der', type: 'spki' });
    return createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch (e) {
    throw errors.usageError({
      message: `${where}: not an Ed25519 public key (${(e as Error).message})`,
      hint: 'Give a PEM public key or the base64 of its 32 raw bytes.',
      phase: 'verify',
      changed: false,
    });
  }
}

/** --public-key takes a file path or the key itself (base64/PEM). */
export async function loadPublicKey(arg: string): Promise<KeyObject> {
  let text = arg;
  try {
    text = await readFile(arg, 'utf8');
  } catch {
    // not a file: the argument is the key
  }
  return parsePublicKey(text, arg);
}

/** A private key file: PEM (PKCS#8, as `openssl genpkey -algorithm ed25519` writes) or base64 of the 32-byte seed. */
export async function loadPrivateKey(file: string): Promise<KeyObject> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw errors.usageError({
      message: `cannot read signing key ${file}: ${(e as Error).message}`,
      hint: 'Give --sign-key an Ed25519 private key file (PEM).',
      phase: 'pack',
      changed: false,
    });
  }
  try {
    if (text.includes('-----BEGIN')) return createPrivateKey(text);
    const raw = Buffer.from(text.trim(), 'base64');
    if (raw.length === 32) return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
    return createPrivateKey({ key: raw, format: 'der', type: 'pkcs8' });
  } catch (e) {
    throw errors.usageError({
      message: `${file} is not an Ed25519 private key (${(e as Error).message})`,
      hint: 'Create one with `openssl genpkey -algorithm ed25519 -out key.pem`.',
      phase: 'pack',
      changed: false,
    });
  }
}

/** The signature file's content: base64 of the Ed25519 signature over the exact manifest bytes, newline-terminated. */
export function signManifest(manifest: Buffer, key: KeyObject): string {
  if (key.asymmetricKeyType !== 'ed25519')
    throw errors.usageError({
      message: `signing key is ${key.asymmetricKeyType}, not ed25519`,
      hint: 'Use an Ed25519 key.',
      phase: 'pack',
      changed: false,
    });
  return `${sign(null, manifest, key).toString('base64')}\n`;
}

/** Throws ERR_SIGNATURE unless `signature` (the .sig file's bytes) is a valid signature of `manifest` by `key`. */
export function verifyManifestSignature(manifest: Buffer, signature: Buffer | undefined, key: KeyObject, where: string): void {
  if (!signature)
    throw sigError(
      `${where}: a public key is configured but the package has no ${SIGNATURE_NAME}`,
      'Install only packages signed by the publisher whose key you configured.',
    );
  const sig = Buffer.from(signature.toString('utf8').trim(), 'base64');
  let ok = false;
  try {
    ok = sig.length === 64 && verify(null, manifest, key, sig);
  } catch {
    ok = false;
  }
  if (!ok)
    throw sigError(
      `${where}: the signature in ${SIGNATURE_NAME} does not match ${MANIFEST_NAME} for the configured public key`,
      'The package was altered or signed by someone else; do not install it.',
    );
}
