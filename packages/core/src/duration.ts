import { LlmUpgradeError } from './errors.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses `500ms`, `5s`, `2m`, `1h` (a bare number is seconds) into milliseconds. */
export function parseDuration(text: string, optionName = 'duration'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/i.exec(text);
  if (!m) {
    throw new LlmUpgradeError({
      code: 'ERR_USAGE',
      message: `${optionName}: "${text}" is not a duration`,
      hint: 'Write durations like 500ms, 5s or 2m.',
      phase: 'usage',
      changed: false,
    });
  }
  const unit = (m[2] ?? 's').toLowerCase();
  return Math.round(Number(m[1]) * (UNIT_MS[unit] ?? 1000));
}
