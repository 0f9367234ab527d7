import type { SignalOutcome } from '../backend.js';

/** kill(2) by pid with errno mapped to an outcome: the one POSIX `send` Linux and macOS share. */
export function sendSignal(
  pid: number,
  signal: NodeJS.Signals,
  kill: (pid: number, signal: NodeJS.Signals) => void = (p, s) => process.kill(p, s),
): SignalOutcome {
  try {
    kill(pid, signal);
    return { pid, result: 'sent' };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return { pid, result: 'gone' };
    if (code === 'EPERM') return { pid, result: 'denied', detail: `EPERM: not allowed to send ${signal} to pid ${pid}` };
    return { pid, result: 'failed', detail: `${signal} to pid ${pid}: ${(e as Error).message}` };
  }
}
