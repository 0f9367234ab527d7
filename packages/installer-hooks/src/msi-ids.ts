import { createHash } from 'node:crypto';

/** MSI Identifier columns (File, Component, Directory keys) hold at most 72 characters. */
export const MSI_IDENTIFIER_MAX = 72;
const VALID = /^[A-Za-z_][A-Za-z0-9_.]*$/;

export function isValidMsiIdentifier(id: string): boolean {
  return id.length <= MSI_IDENTIFIER_MAX && VALID.test(id);
}

/**
 * Deterministic, unique MSI identifiers for payload paths. Readable (`f_lib_ollama_x.dll`)
 * when the sanitised path fits and is free; otherwise the path's tail plus a hash, so
 * Ollama-deep trees (lib/ollama/cuda_v12/…) and names that differ only in punctuation or
 * case stay distinct. Case-insensitive uniqueness: cabinet and file system lookups are.
 */
export class MsiIdAllocator {
  private readonly used = new Set<string>();

  constructor(reserved: Iterable<string> = []) {
    for (const r of reserved) this.used.add(r.toLowerCase());
  }

  allocate(prefix: string, relPath: string): string {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(prefix) || prefix.length > 8) throw new Error(`bad identifier prefix ${prefix}`);
    const sanitised = relPath.replace(/[^A-Za-z0-9_.]/g, '_');
    const plain = `${prefix}${sanitised}`;
    if (plain.length <= MSI_IDENTIFIER_MAX && !this.used.has(plain.toLowerCase())) return this.take(plain);
    for (let salt = 0; ; salt++) {
      const hash = createHash('sha256').update(`${salt}\0${relPath}`).digest('hex').slice(0, 16);
      const room = MSI_IDENTIFIER_MAX - prefix.length - hash.length - 1;
      const tail = sanitised.slice(-room).replace(/^[.]+/, '');
      const id = `${prefix}${tail}_${hash}`;
      if (!this.used.has(id.toLowerCase())) return this.take(id);
    }
  }

  private take(id: string): string {
    if (!isValidMsiIdentifier(id)) throw new Error(`internal: generated an invalid MSI identifier ${id}`);
    this.used.add(id.toLowerCase());
    return id;
  }
}
