import type { CoreEvent, Holder, ScopedProcess, StopResult } from '@llm-upgrade/core';
import type { Reporter } from './reporter.js';

/** Why some processes could not be read, and what would help. */
export function unreadableAdvice(): string {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  return root ? 'protected or exiting processes; the JSON output lists them under "unknown"' : 'run as root/Administrator to read them';
}

export function describeProcess(p: Pick<ScopedProcess, 'pid' | 'name' | 'exe'>): string {
  return `${p.name} (pid ${p.pid}${p.exe ? `, ${p.exe}` : ''})`;
}

/** Human text for a core progress event; undefined for events not worth a line. */
export function describeCoreEvent(e: CoreEvent): string | undefined {
  switch (e.type) {
    case 'snapshot': return `found ${e.inScope} process(es) in scope, ${e.orphans} orphaned (${e.processes} scanned)`;
    case 'service-stop': return `stopping ${e.service.manager} service ${e.service.name}`;
    case 'signal': return `${e.signal} → ${e.name} (pid ${e.pid})`;
    case 'exited': return `${e.name} (pid ${e.pid}) ${e.how}`;
    case 'freeze': return `froze ${e.pids.length} process(es) (round ${e.round})`;
    case 'wait': return `waiting for ${e.remaining} process(es) to exit (${(e.elapsedMs / 1000).toFixed(1)}s)`;
    case 'holders': return `checking files: ${e.holders} holder(s), ${e.unknown} unreadable process(es) (attempt ${e.attempt})`;
    case 'warning': return e.message;
    default: return undefined;
  }
}

export function coreEventSink(reporter: Reporter): (e: CoreEvent) => void {
  return (e) => reporter.event(e as unknown as { type: string }, describeCoreEvent(e), e.type === 'wait' || e.type === 'holders');
}

/** A forest view: roots first, children indented, orphans marked. */
export function renderForest(processes: ScopedProcess[]): string[] {
  const inScope = processes.filter((p) => p.inScope);
  const byPid = new Map(inScope.map((p) => [p.pid, p]));
  const children = new Map<number, ScopedProcess[]>();
  const tops: ScopedProcess[] = [];
  for (const p of inScope) {
    if (byPid.has(p.ppid) && p.ppid !== p.pid) {
      const list = children.get(p.ppid) ?? [];
      list.push(p);
      children.set(p.ppid, list);
    } else tops.push(p);
  }
  const lines: string[] = [];
  const walk = (p: ScopedProcess, depth: number) => {
    const tag = p.orphan ? '  [ORPHAN]' : '';
    lines.push(`${'  '.repeat(depth)}${p.pid}  ${p.role.padEnd(10)} ${p.exe ?? p.name}${tag}`);
    for (const c of children.get(p.pid) ?? []) walk(c, depth + 1);
  };
  for (const t of tops.sort((a, b) => a.pid - b.pid)) walk(t, 0);
  return lines;
}

export function renderHolder(h: Holder): string {
  return `${h.name} (pid ${h.pid}) holds ${h.path} [${h.kind}${h.deleted ? ', deleted' : ''}]${h.inScope ? '' : ' — foreign, not stopped'}`;
}

export function renderStopSummary(r: StopResult, reporter: Reporter, verb: string): void {
  if (r.dryRun) {
    reporter.line(`dry run: would ${verb} ${r.plan.length} process(es); nothing was changed`);
    for (const s of r.services) reporter.line(`  ${s.manager} service ${s.name} (stopped through its manager)`);
    for (const p of r.plan) reporter.line(`  ${describeProcess(p)}${p.orphan ? ' [orphan]' : ''}`);
    return;
  }
  for (const p of r.stopped) reporter.line(`  ${p.how.padEnd(10)} ${describeProcess(p)}${p.orphan ? ' [orphan]' : ''}`);
  for (const w of r.warnings) reporter.line(w, 'warn');
  if (!r.complete) reporter.line(`${r.unknown.length} process(es) could not be read; the holder check is incomplete (${unreadableAdvice()})`, 'warn');
  if (r.ok) {
    reporter.line(`${verb}: ${r.stopped.length} process(es) ended in ${r.durationMs} ms; no file under the install is held`);
    return;
  }
  for (const s of r.survivors) reporter.line(`still running: ${describeProcess(s)} — ${s.why}`, 'warn');
  for (const h of r.holders) reporter.line(`still held: ${renderHolder(h)}`, 'warn');
}
