import * as errors from './error-factories.js';
import type { ScopedProcess, Snapshot } from './types.js';

/** Our own pid and every ancestor, from a snapshot: never signalled, whatever the scope says. */
export function selfAndAncestors(snapshot: Pick<Snapshot, 'processes'>, selfPid: number = process.pid): Set<number> {
  const parentOf = new Map(snapshot.processes.map((p) => [p.pid, p.ppid]));
  const out = new Set<number>();
  let pid: number | undefined = selfPid;
  while (pid !== undefined && pid > 0 && !out.has(pid)) {
    out.add(pid);
    pid = parentOf.get(pid) ?? (pid === selfPid ? process.ppid : undefined);
  }
  return out;
}

/**
 * Refuses, before anything is signalled, when our own process or one of its ancestors is in
 * scope: stopping it would kill the caller (the app updating itself must relaunch detached).
 */
export function assertSelfNotInScope(targets: readonly ScopedProcess[], self: ReadonlySet<number>, phase: 'stop' | 'sweep'): void {
  const hit = targets.find((p) => self.has(p.pid));
  if (!hit) return;
  const who = hit.pid === process.pid ? 'this process' : `an ancestor of this process (pid ${process.pid})`;
  throw errors.selfInScopeError({
    message: `pid ${hit.pid} (${hit.exe ?? hit.name}) is in scope and is ${who}; refusing to ${phase}`,
    hint: 'Run llm-upgrade from outside the install (an app updating itself must start the upgrader detached and exit).',
    phase,
    changed: false,
    details: { pid: hit.pid, exe: hit.exe, name: hit.name },
  });
}
