// Bind mounts make one file reachable under several paths: the kernel reports exe, fd and map
// targets by the path the process used. Every mount of the same device whose subtree overlaps a
// root gives that root another name (an alias), so matching by path covers the same (dev, inode).
import { posix } from 'node:path';

export interface MountEntry {
  /** major:minor of the file system. */
  dev: string;
  /** The directory of that file system this mount shows (`/` for a plain mount; a subdirectory for a bind mount). */
  fsRoot: string;
  mountPoint: string;
}

const unescapeOctal = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 5 || !f[2] || !f[3] || !f[4]) continue;
    out.push({ dev: f[2], fsRoot: unescapeOctal(f[3]), mountPoint: unescapeOctal(f[4]) });
  }
  return out;
}

function under(path: string, dir: string): string | null {
  if (path === dir) return '';
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return path.startsWith(prefix) ? path.slice(prefix.length) : null;
}

/**
 * Other paths of each root through bind mounts: for the mount that holds the root, the root's
 * path inside its file system; every other mount of that device showing that path (or part of
 * it) is an alias. Later mounts over the same point hide earlier ones, as in the kernel.
 */
export function rootAliases(roots: readonly string[], mounts: readonly MountEntry[]): string[] {
  const visible = new Map<string, MountEntry>();
  for (const m of mounts) visible.set(m.mountPoint, m); // the last mount on a point is the visible one
  const entries = [...visible.values()];
  const out = new Set<string>();
  for (const root of roots) {
    let holder: MountEntry | undefined;
    for (const m of entries)
      if (under(root, m.mountPoint) !== null && (!holder || m.mountPoint.length > holder.mountPoint.length)) holder = m;
    if (!holder) continue;
    const fsPath = posix.join(holder.fsRoot, under(root, holder.mountPoint) ?? '');
    for (const m of entries) {
      if (m.dev !== holder.dev || m === holder) continue;
      const inside = under(m.fsRoot, fsPath); // the mount shows a part of the root
      const contains = under(fsPath, m.fsRoot); // the mount shows the root and more
      let alias: string | null = null;
      if (inside !== null) alias = m.mountPoint;
      else if (contains !== null) alias = posix.join(m.mountPoint, contains);
      if (alias !== null && !roots.includes(alias)) out.add(alias);
    }
  }
  return [...out];
}
