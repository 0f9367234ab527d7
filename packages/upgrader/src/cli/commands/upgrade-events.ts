import type { CoreEvent } from '@llm-upgrade/core';
import type { UpgradeEvent } from '../../events.js';
import { describeCoreEvent } from '../render.js';
import type { Reporter } from '../reporter.js';

const MiB = 1024 * 1024;
const pct = (a: number, b: number) => (b > 0 ? `${Math.floor((a / b) * 100)}%` : '');

/** Human text for an upgrader event; undefined when it is not worth a line. */
export function describeUpgradeEvent(e: UpgradeEvent): string | undefined {
  switch (e.type) {
    case 'phase': return `[${e.phase}]${e.detail ? ` ${e.detail}` : ''}`;
    case 'download': return `downloading ${pct(e.receivedBytes, e.totalBytes)} (${(e.receivedBytes / MiB).toFixed(1)} of ${(e.totalBytes / MiB).toFixed(1)} MiB)${e.resumedFrom ? `, resumed at ${(e.resumedFrom / MiB).toFixed(1)} MiB` : ''}`;
    case 'download-retry': return `download interrupted (${e.reason}); retrying (attempt ${e.attempt})`;
    case 'verify': return `verifying: ${(e.bytes / MiB).toFixed(1)} MiB, ${e.entries} entries`;
    case 'stage': return `staging ${pct(e.bytes, e.totalBytes)} (${e.files}/${e.totalFiles} files)`;
    case 'swap': return `swapping files ${e.done}/${e.total}`;
    case 'journal': return undefined;
    case 'thawed': return `continued ${e.name} (pid ${e.pid}), left frozen by an interrupted upgrade`;
    case 'restart': return `started the server again (${e.how}${e.pid ? `, pid ${e.pid}` : ''}${e.logFile ? `; its output goes to ${e.logFile}` : ''})`;
    case 'health': return e.error ? `health: ${e.url}: ${e.error}` : `health: ${e.url} → HTTP ${e.status}${e.version ? `, version ${e.version}` : ''}`;
    case 'rollback': return `rolled back ${e.moves} move(s): ${e.reason}`;
    case 'recovered': return `recovered an interrupted upgrade: ${e.action} (${e.moves} move(s) undone)`;
    case 'test-paused': return `[test hook] paused after journal step ${e.step}`;
    default: return describeCoreEvent(e as CoreEvent);
  }
}

/** Events that repeat while something progresses; the reporter rate-limits them. */
const TICKERS = new Set(['download', 'stage', 'verify', 'swap', 'wait', 'holders']);

export function upgradeEventSink(reporter: Reporter): (e: UpgradeEvent) => void {
  return (e) => reporter.event(e as unknown as { type: string }, describeUpgradeEvent(e), TICKERS.has(e.type));
}
