import { type LlmUpgradeError, errors } from '@llm-upgrade/core';

/**
 * Parses a sha256sum file: `<hex>  <name>` (text mode), `<hex> *<name>` (binary mode), names
 * with or without a leading `./` (Ollama's `sha256sum.txt` writes `./ollama-linux-amd64.tgz`),
 * and BSD-style `SHA256 (<name>) = <hex>`. Keys are the file names (no `./`), values lower-case hex.
 * A malformed line or a name listed twice with different digests is refused: the file is the
 * root of trust for archives without a manifest.
 */
export function parseSha256Sums(text: string, where: string): Map<string, string> {
  const out = new Map<string, string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(line) ?? /^SHA256 \((.+)\) = ([0-9a-fA-F]{64})$/.exec(line);
    if (!m) throw bad(`${where}: line ${i + 1} is not "<sha256>  <name>": ${line.slice(0, 120)}`);
    const [hex, rawName] = line.startsWith('SHA256 (') ? [m[2]!, m[1]!] : [m[1]!, m[2]!];
    const name = rawName.replace(/^(\.\/)+/, '');
    const digest = hex.toLowerCase();
    const prior = out.get(name);
    if (prior !== undefined && prior !== digest) throw bad(`${where}: ${name} is listed twice with different SHA-256 digests`);
    out.set(name, digest);
  }
  if (out.size === 0) throw bad(`${where} lists no checksums`);
  return out;
}

/** A digest as GitHub's API gives it (`sha256:<hex>`) or bare hex, lower-cased; null when it is not a SHA-256. */
export function normaliseDigest(digest: string): string | null {
  const hex = digest.trim().replace(/^sha256:/i, '');
  return /^[0-9a-fA-F]{64}$/.test(hex) ? hex.toLowerCase() : null;
}

function bad(message: string): LlmUpgradeError {
  return errors.badPackageError({
    message,
    hint: 'Give the sha256sum file the release publishes (e.g. sha256sum.txt).',
    phase: 'verify',
    changed: false,
  });
}
