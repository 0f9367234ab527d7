import { join } from 'node:path';
import { walk } from '../fsutil.js';
import type { Manifest } from '../manifest.js';
import type { MoveOp } from '../transaction/journal.js';

/** Files under a move's path: the path itself or anything below it. */
const under = (p: string, top: string) => p === top || p.startsWith(`${top}/`);

/** The files the moves add, replace and remove: the new tree's under each install, the disk's under each backup. */
export async function changesOf(root: string, moves: MoveOp[], next: string[]) {
  const carried = moves.filter((m) => m.op === 'carry').map((m) => m.path);
  const backedUp = new Set<string>();
  for (const m of moves.filter((x) => x.op === 'backup')) {
    const at = join(root, ...m.path.split('/'));
    const entries = await walk(at).catch(() => null);
    if (entries === null) backedUp.add(m.path);
    else for (const e of entries) if (e.kind !== 'dir') backedUp.add(`${m.path}/${e.path}`);
  }
  const installs = moves.filter((m) => m.op === 'install').map((m) => m.path);
  const incoming = next.filter((p) => installs.some((top) => under(p, top)));
  const incomingSet = new Set(incoming);
  return {
    add: incoming.filter((p) => !backedUp.has(p)),
    replace: incoming.filter((p) => backedUp.has(p)),
    remove: [...backedUp].filter((p) => !incomingSet.has(p) && !carried.some((c) => under(p, c))).sort(),
    carry: carried,
  };
}

export function journalSpace(moves: MoveOp[], installed: Manifest | null, manifest: Manifest): { bytes: number; inodes: number } {
  const manifestBytes = (m: Manifest | null) => (m ? Buffer.byteLength(JSON.stringify(m, null, 2)) + 256 : 0);
  const journal = Buffer.byteLength(JSON.stringify(moves)) + manifestBytes(installed) + manifestBytes(manifest) + 8192;
  return { bytes: 2 * journal + manifestBytes(manifest) + manifestBytes(installed) + 4096, inodes: 4 };
}
