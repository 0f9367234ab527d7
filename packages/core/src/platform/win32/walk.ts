import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Our own staging/journal directory inside a root: files there are ours, not the product's. */
export const STATE_DIR = '.llm-upgrade';

/** Every regular file under the roots (a root may itself be a file). Symlinks are not followed. */
export function walkFiles(roots: readonly string[]): string[] {
  const files: string[] = [];
  const visit = (path: string) => {
    let st;
    try {
      st = lstatSync(path);
    } catch {
      return;
    }
    if (st.isFile()) {
      files.push(path);
      return;
    }
    if (!st.isDirectory()) return;
    let entries;
    try {
      entries = readdirSync(path, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory() && e.name === STATE_DIR) continue;
      visit(join(path, e.name));
    }
  };
  for (const root of roots) visit(root);
  return files;
}
