import type { CoreEvent } from '@llm-upgrade/core';
import type { UpgradeEvent } from '../../events.js';
import { describeCoreEvent, WaitTracker } from '../render.js';
import type { Reporter } from '../reporter.js';

const MiB = 1024 * 1024;
const pct = (a: number, b: number) => (b > 0 ? `, ${Math.floor((a / b) * 100)}%` : '');
const mib = (n: number) => (n / MiB).toFixed(1);

/** Bytes per second since the first download event of this run (a resume counts from where it resumed). */
export class RateMeter {
  private first: { at: number; bytes: number } | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  /** "3.2 MiB/s, 12s left", or '' until there is a rate to speak of. */
  sample(received: number, total: number): string {
    const at = this.now();
    if (!this.first || received < this.first.bytes) this.first = { at, bytes: received };
    const secs = (at - this.first.at) / 1000;
    if (secs < 0.5) return '';
    const rate = (received - this.first.bytes) / secs;
    if (rate <= 0) return ', stalled';
    const left = total > received ? Math.ceil((total - received) / rate) : 0;
    return `, ${mib(rate)} MiB/s, ${left >= 60 ? `${Math.floor(left / 60)}m${String(left % 60).padStart(2, '0')}s` : `${left}s`} left`;
  }
}

/** The state some lines need: the download's rate, the processes a stop waits for. */
export interface EventState {
  rate?: RateMeter;
  waits?: WaitTracker;
}

/** Human text for an upgrader event; undefined when it is not worth a line. */
export function describeUpgradeEvent(e: UpgradeEvent, state: EventState = {}): string | undefined {
  switch (e.type) {
    case 'phase':
      return `[${e.phase}]${e.detail ? ` ${e.detail}` : ''}`;
    case 'download':
      return `downloading ${mib(e.receivedBytes)}/${mib(e.totalBytes)} MiB${pct(e.receivedBytes, e.totalBytes)}${state.rate?.sample(e.receivedBytes, e.totalBytes) ?? ''}${e.resumedFrom ? ` (resumed at ${mib(e.resumedFrom)} MiB)` : ''}`;
    case 'download-retry':
      return `download interrupted (${e.reason}); retrying (attempt ${e.attempt})`;
    case 'verify':
      return `verifying: ${e.entries} entries, ${mib(e.bytes)} MiB read so far`;
    case 'stage':
      return `staging ${e.files}/${e.totalFiles} files${pct(e.bytes, e.totalBytes)}`;
    case 'swap':
      return `swapping ${e.done}/${e.total} entries`;
    case 'journal':
      return undefined;
    case 'thawed':
      return `continued ${e.name} (pid ${e.pid}), left frozen by an interrupted upgrade`;
    case 'restart':
      return `started the server again (${e.how}${e.pid ? `, pid ${e.pid}` : ''}${e.logFile ? `; its output goes to ${e.logFile}` : ''})`;
    case 'health':
      return e.error ? `health: ${e.url}: ${e.error}` : `health: ${e.url} → HTTP ${e.status}${e.version ? `, version ${e.version}` : ''}`;
    case 'rollback':
      return `rolled back ${e.moves} move(s): ${e.reason}`;
    case 'recovered':
      return e.action === 'committed'
        ? 'an interrupted upgrade had committed: finished it (rolled forward)'
        : `an interrupted upgrade had not committed: rolled back (${e.moves} move(s) reversed)`;
    case 'test-paused':
      return `[test hook] paused after journal step ${e.step}`;
    default:
      return describeCoreEvent(e as CoreEvent, state.waits);
  }
}

/** Events that repeat while something progresses; the reporter rate-limits them. */
const TICKERS = new Set(['download', 'stage', 'verify', 'swap', 'wait', 'holders']);

export function upgradeEventSink(reporter: Reporter): (e: UpgradeEvent) => void {
  const state: EventState = { rate: new RateMeter(), waits: new WaitTracker(reporter.durations.graceMs, reporter.durations.timeoutMs) };
  return (e) => reporter.event(e as unknown as { type: string }, describeUpgradeEvent(e, state), TICKERS.has(e.type));
}
