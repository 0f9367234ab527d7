import type { LlmUpgradeError } from './errors.js';
import * as errors from './error-factories.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** The longest duration any option takes unless it names its own bound. */
export const MAX_DURATION_MS = 24 * 3_600_000;

function usage(message: string, hint: string): LlmUpgradeError {
  return errors.usageError({ message, hint, phase: 'usage', changed: false });
}

export function formatDuration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/**
 * Parses `500ms`, `5s`, `2m`, `1h` into milliseconds. The unit is required: a bare `5` could be
 * seconds or milliseconds, and guessing wrong turns a grace period into a kill.
 */
export function parseDuration(text: string, optionName = 'duration', maxMs = MAX_DURATION_MS): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i.exec(text);
  if (!m) throw usage(`${optionName}: "${text}" is not a duration`, 'Write durations like 500ms, 5s or 2m.');
  if (!m[2]) throw usage(`${optionName} ${text} needs a unit: ${m[1]}s, ${m[1]}ms, ${m[1]}m`, 'Write durations like 500ms, 5s or 2m.');
  const ms = Math.round(Number(m[1]) * (UNIT_MS[m[2].toLowerCase()] ?? 1000));
  if (ms > maxMs)
    throw usage(
      `${optionName} ${text} is longer than the ${formatDuration(maxMs)} it allows`,
      `Give ${optionName} at most ${formatDuration(maxMs)}.`,
    );
  return ms;
}
