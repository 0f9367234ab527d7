import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** A file from platform/__recorded__ (see the README there for where each came from). */
export function recorded(name: string): string {
  return readFileSync(fileURLToPath(new URL(`../__recorded__/${name}`, import.meta.url)), 'utf8');
}
