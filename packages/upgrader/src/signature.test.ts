import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parsePublicKey, signManifest, verifyManifestSignature } from './signature.js';

describe('Ed25519 manifest signatures', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const manifest = Buffer.from('{"name":"x","version":"1.0.0","files":[]}\n');
  const sig = Buffer.from(signManifest(manifest, privateKey));

  it('verifies with the key as PEM, raw base64 and SPKI base64', () => {
    const der = publicKey.export({ type: 'spki', format: 'der' });
    for (const text of [
      publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      der.subarray(12).toString('base64'),
      der.toString('base64'),
    ]) {
      expect(() => verifyManifestSignature(manifest, sig, parsePublicKey(text, 't'), 'pkg')).not.toThrow();
    }
  });
  it('refuses a changed manifest, a missing signature and another key', () => {
    const key = parsePublicKey(publicKey.export({ type: 'spki', format: 'pem' }).toString(), 't');
    expect(() => verifyManifestSignature(Buffer.from(manifest.toString().replace('x', 'y')), sig, key, 'pkg')).toThrow(/does not match/);
    expect(() => verifyManifestSignature(manifest, undefined, key, 'pkg')).toThrow(/no llm-upgrade.json.sig/);
    const other = generateKeyPairSync('ed25519').publicKey;
    expect(() => verifyManifestSignature(manifest, sig, other, 'pkg')).toThrow(/does not match/);
    expect(() => verifyManifestSignature(manifest, Buffer.from('garbage'), key, 'pkg')).toThrow(/does not match/);
  });
});
