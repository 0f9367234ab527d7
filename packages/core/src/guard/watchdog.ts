// The watchdog: a separate process (own session, not a descendant anyone signals) that the
// wrapper feeds with the identities of everything CMD started. If its stdin ends without
// `done` the wrapper died without cleaning up (SIGKILL, OOM killer): it then forces every
// identity still alive, and their descendants, through the backend's race-free force.
import { getBackend, getGuardBackend } from '../platform/index.js';
import { asScoped, selfAndAncestorPids } from './scoped.js';
import type { LineageEntry } from './types.js';

/** Wire format, one line each: `+ PID STARTKEY` (a member), `done` (clean exit, nothing to do). */
export function parseWatchdogLine(line: string): { kind: 'member'; pid: number; startKey: string } | { kind: 'done' } | null {
  if (line === 'done') return { kind: 'done' };
  const m = /^\+ (\d+) (\S+)$/.exec(line);
  return m ? { kind: 'member', pid: Number(m[1]), startKey: m[2] as string } : null;
}

/** Live members plus their live descendants (a child cannot have started before its parent). */
export function membersAndDescendants(entries: readonly LineageEntry[], members: ReadonlyMap<number, string>): LineageEntry[] {
  const out = new Map<number, LineageEntry>();
  for (const e of entries) if (members.get(e.pid) === e.startKey) out.set(e.pid, e);
  for (let grew = true; grew; ) {
    grew = false;
    for (const e of entries) {
      const parent = out.get(e.ppid);
      if (!out.has(e.pid) && parent && parent.pid !== e.pid && parent.startTime <= e.startTime) {
        out.set(e.pid, e);
        grew = true;
      }
    }
  }
  return [...out.values()].filter((e) => e.live);
}

/** Reads the wire format from `input`; resolves with how many processes it had to end. */
export async function runWatchdog(input: NodeJS.ReadableStream): Promise<number> {
  const members = new Map<number, string>();
  let done = false;
  // Loaded here, not at the top: commands that never run a watchdog do not load readline.
  const { createInterface } = await import('node:readline');
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    const msg = parseWatchdogLine(line.trim());
    if (msg?.kind === 'done') done = true;
    else if (msg?.kind === 'member') members.set(msg.pid, msg.startKey);
  }
  if (done || members.size === 0) return 0;
  const guard = await getGuardBackend();
  const backend = await getBackend();
  const scan = async () => {
    const entries = await guard.scan();
    return { entries, targets: membersAndDescendants(entries, members) };
  };
  let { entries, targets } = await scan();
  const protectedPids = selfAndAncestorPids(entries);
  let ended = 0;
  for (let round = 0; round < 5 && targets.length > 0; round++) {
    const outcomes = await backend.forceKill(targets.filter((t) => !protectedPids.has(t.pid)).map(asScoped), {
      rescan: async () => (await scan()).targets.filter((t) => !protectedPids.has(t.pid)).map(asScoped),
      protectedPids,
    });
    ended += outcomes.filter((o) => o.result === 'sent').length;
    ({ entries, targets } = await scan());
  }
  return ended;
}
