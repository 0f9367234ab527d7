import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface PayloadFile {
  /** Path relative to the payload root, with forward slashes. */
  relPath: string;
  name: string;
  bytes: number;
}

export interface PayloadDir {
  /** '' for the root. */
  relPath: string;
  name: string;
  dirs: PayloadDir[];
  files: PayloadFile[];
}

/** The payload tree, sorted by name so the rendered source is the same on every run. */
export function readPayload(root: string): PayloadDir {
  const walk = (relPath: string, name: string): PayloadDir => {
    const abs = relPath === '' ? root : join(root, relPath);
    const node: PayloadDir = { relPath, name, dirs: [], files: [] };
    const entries = readdirSync(abs, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const childRel = relPath === '' ? e.name : `${relPath}/${e.name}`;
      if (e.isDirectory()) {
        node.dirs.push(walk(childRel, e.name));
      } else if (e.isFile()) {
        node.files.push({ relPath: childRel, name: e.name, bytes: statSync(join(abs, e.name)).size });
      } else {
        throw new Error(`${join(abs, e.name)}: only regular files and directories can go into an installer payload`);
      }
    }
    return node;
  };
  return walk('', '');
}

export function countFiles(dir: PayloadDir): number {
  return dir.files.length + dir.dirs.reduce((n, d) => n + countFiles(d), 0);
}
