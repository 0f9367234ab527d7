// Entry point of the watchdog process (`node watchdog-main.js`); the CLI's single executable
// starts itself with LLM_UPGRADE_GUARD_WATCHDOG=1 instead and calls watchdogMain().
import { runWatchdog } from './watchdog.js';

export const WATCHDOG_ENV = 'LLM_UPGRADE_GUARD_WATCHDOG';

/** Runs the watchdog on this process's stdin, ignoring the signals a terminal or a CI runner sends the group. */
export function watchdogMain(): Promise<number> {
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, () => undefined);
  return runWatchdog(process.stdin);
}
