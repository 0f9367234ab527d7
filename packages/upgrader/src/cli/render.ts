import { LlmUpgradeError, type CoreEvent, type Holder, type ScopedProcess, type StopResult } from '@llm-upgrade/core';
import type { Reporter } from './reporter.js';

/** Why some processes could not be read, and what would help. */
export function unreadableAdvice(): string {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  return root ? 'protected or exiting processes; the JSON output lists them under "unknown"' : 'run as root/Administrator to read them';
}

export function describeProcess(p: Pick<ScopedProcess, 'pid' | 'name' | 'exe'>): string {
  return `${p.name} (pid ${p.pid}${p.exe ? `, ${p.exe}` : ''})`;
}

/** "a (pid 1), b (pid 2), c (pid 3) +2 more" */
export function listFew(items: string[], few = 3): string {
  return items.length <= few ? items.join(', ') : `${items.slice(0, few).join(', ')} +${items.length - few} more`;
}

const seconds = (ms: number) => `${(Math.max(0, ms) / 1000).toFixed(1)}s`;

/**
 * Remembers what a stop asked to end (the signal events) and what is gone (exited), so a wait
 * line can name the processes and the deadline: grace first, then the timeout.
 */
export class WaitTracker {
  private readonly pending = new Map<number, string>();
  private readonly started = Date.now();
  private graceEnd: number | undefined;

  constructor(
    private readonly graceMs: number | undefined,
    private readonly timeoutMs: number | undefined,
  ) {}

  observe(e: CoreEvent): void {
    if (e.type === 'signal') {
      this.pending.set(e.pid, e.name);
      if (this.graceEnd === undefined && this.graceMs !== undefined) this.graceEnd = Date.now() + this.graceMs;
    } else if (e.type === 'exited') this.pending.delete(e.pid);
  }

  describeWait(e: Extract<CoreEvent, { type: 'wait' }>): string {
    const names = [...this.pending].map(([pid, name]) => `${name} (pid ${pid})`);
    const who = names.length ? listFew(names) : `${e.remaining} process(es)`;
    const now = Date.now();
    const deadline =
      this.graceEnd !== undefined && now < this.graceEnd
        ? `grace ends in ${seconds(this.graceEnd - now)}`
        : this.timeoutMs !== undefined
          ? `gives up in ${seconds(this.started + this.timeoutMs - now)}`
          : `${seconds(e.elapsedMs)} so far`;
    return `waiting for ${who} to exit; ${deadline}`;
  }
}

/** Human text for a core progress event; undefined for events not worth a line. */
export function describeCoreEvent(e: CoreEvent, waits?: WaitTracker): string | undefined {
  waits?.observe(e);
  switch (e.type) {
    case 'snapshot':
      return `found ${e.inScope} process(es) in scope, ${e.orphans} orphaned (${e.processes} scanned)`;
    case 'service-stop':
      return `stopping ${e.service.manager} service ${e.service.name}`;
    case 'signal':
      return `${e.signal} → ${e.name} (pid ${e.pid})`;
    case 'exited':
      return `${e.name} (pid ${e.pid}) ${e.how}`;
    case 'freeze':
      return `froze ${e.pids.length} process(es) (round ${e.round})`;
    case 'wait':
      return waits ? waits.describeWait(e) : `waiting for ${e.remaining} process(es) to exit (${seconds(e.elapsedMs)} so far)`;
    case 'holders':
      return `checking files: ${e.holders} holder(s), ${e.unknown} unreadable process(es) (attempt ${e.attempt})`;
    case 'warning':
      return e.message;
    default:
      return undefined;
  }
}

export function coreEventSink(reporter: Reporter): (e: CoreEvent) => void {
  const waits = new WaitTracker(reporter.durations.graceMs, reporter.durations.timeoutMs);
  return (e) => reporter.event(e as unknown as { type: string }, describeCoreEvent(e, waits), e.type === 'wait' || e.type === 'holders');
}

/** The version an upgrade starts from: a fresh install has none; an install we did not make may not say. */
export function fromLabel(from: string | null, fresh: boolean): string {
  return from ?? (fresh ? 'nothing installed' : 'unknown version');
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

/** What a stop or sweep would end, from its dry run (the question that follows is on stderr too). */
export function stopPlanLines(r: StopResult, verb: string): string[] {
  const items = [
    ...r.services.map((s) => `  ${s.manager} service ${s.name} (stopped through its manager)`),
    ...r.plan.map((p) => `  ${describeProcess(p)}${p.orphan ? ' [orphan]' : ''}`),
  ];
  const shown = items.length > 40 ? [...items.slice(0, 40), `  … +${items.length - 40} more`] : items;
  return [`${verb} will end ${r.plan.length} process(es):`, ...shown];
}

/** stop/sweep's exit 3 as one error naming the survivors and holders (details carry them all). */
export function stopError(r: StopResult, verb: 'stop' | 'sweep'): LlmUpgradeError {
  const survivors = r.survivors.map((s) => `${s.name} (pid ${s.pid})`);
  const held = r.holders.map((h) => `${h.path} by ${h.name} (pid ${h.pid})`);
  const parts = [
    ...(survivors.length ? [`${survivors.length} process(es) still running: ${listFew(survivors)}`] : []),
    ...(held.length ? [`${held.length} file(s) still held: ${listFew(held, 2)}`] : []),
  ];
  return new LlmUpgradeError({
    code: survivors.length ? 'ERR_SURVIVORS' : 'ERR_FILES_HELD',
    message: parts.join('; ') || `${verb} did not finish`,
    hint: survivors.length
      ? 'End them by hand (or as root/Administrator) or give a longer --timeout, then run the command again.'
      : 'Close what holds the files (`llm-upgrade holders` lists them), then run the command again.',
    phase: verb,
    changed: r.stopped.length > 0,
    details: { survivors: r.survivors, holders: r.holders },
  });
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
  if (!r.complete)
    reporter.line(`${r.unknown.length} process(es) could not be read; the holder check is incomplete (${unreadableAdvice()})`, 'warn');
  if (r.ok) {
    reporter.line(`${verb}: ${r.stopped.length} process(es) ended in ${r.durationMs} ms; no file under the install is held`);
    return;
  }
  for (const s of r.survivors) reporter.line(`still running: ${describeProcess(s)} — ${s.why}`, 'warn');
  for (const h of r.holders) reporter.line(`still held: ${renderHolder(h)}`, 'warn');
}
