import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { installLayout } from './layout.js';

export const STATE_DIR = '.llm-upgrade';

/** The manifest recorded by the last committed upgrade: `<root>/.llm-upgrade/installed.json`. */
export interface InstalledState {
  name: string;
  version: string;
  platform?: string;
  root: string;
}

/** The installed version of the first root that records one, or null for an install we never upgraded. */
export async function readInstalledState(roots: string[]): Promise<InstalledState | null> {
  const layout = roots.length ? installLayout(roots) : null;
  for (const root of layout?.units ? [layout.base] : roots) {
    try {
      const doc = JSON.parse(await readFile(join(root, STATE_DIR, 'installed.json'), 'utf8')) as {
        name?: unknown;
        version?: unknown;
        platform?: unknown;
      };
      if (typeof doc.version === 'string' && typeof doc.name === 'string') {
        return { name: doc.name, version: doc.version, ...(typeof doc.platform === 'string' ? { platform: doc.platform } : {}), root };
      }
    } catch {
      // absent or unreadable: try the next root
    }
  }
  return null;
}
