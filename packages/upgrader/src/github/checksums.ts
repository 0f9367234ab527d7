/**
 * sha256sum output (`<hex>  ./<name>`, `<hex> *<name>` in binary mode) → hex digest by file
 * name. Lines that are not checksum lines are ignored; a name listed twice with different
 * digests is ambiguous and dropped.
 */
export function parseSha256Sums(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const conflicting = new Set<string>();
  for (const raw of text.split(/\r?\n/)) {
    const m = /^([0-9a-fA-F]{64}) [ *](.+)$/.exec(raw.trim());
    if (!m) continue;
    const name = m[2]!.trim().replace(/^(\.\/)+/, '');
    const hex = m[1]!.toLowerCase();
    const seen = out.get(name);
    if (seen !== undefined && seen !== hex) conflicting.add(name);
    out.set(name, hex);
  }
  for (const name of conflicting) out.delete(name);
  return out;
}

/** An asset's `digest` field from the GitHub API (`sha256:<hex>`) → hex, or null for another algorithm or none. */
export function sha256OfDigest(digest: unknown): string | null {
  if (typeof digest !== 'string') return null;
  const m = /^sha256:([0-9a-fA-F]{64})$/.exec(digest.trim());
  return m ? m[1]!.toLowerCase() : null;
}
