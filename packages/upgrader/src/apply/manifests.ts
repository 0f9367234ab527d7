import { readFile } from 'node:fs/promises';
import { type Manifest, parseManifest } from '../manifest.js';
import { statePaths } from '../paths.js';

export async function installedManifest(root: string): Promise<Manifest | null> {
  try {
    return parseManifest(await readFile(statePaths(root).installed), statePaths(root).installed);
  } catch {
    return null;
  }
}

export const pathsOf = (m: Manifest) => [...m.files.map((f) => f.path), ...(m.links ?? []).map((l) => l.path)];
