#!/usr/bin/env node
import { isatty } from 'node:tty';
import { EXIT, INTERRUPT_SIGNALS, WATCHDOG_ENV, watchdogMain } from '@llm-upgrade/core';
import { runCli } from './run.js';

let settled = false;
// If a command's promise can never settle (a stream that never ends), Node would exit 0 with
// nothing said; a custom action would read that as success.
process.on('beforeExit', () => {
  if (settled) return;
  settled = true;
  process.stderr.write('error [ERR_INTERNAL]: the command ended without a result (an operation never completed)\n');
  process.exitCode = EXIT.internal;
});

// No top-level await: this file is also bundled to CommonJS for the single executable.
// `run` starts this program again as its watchdog (see commands/run.ts).
if (process.env[WATCHDOG_ENV] === '1') {
  settled = true;
  void watchdogMain().then(
    () => (process.exitCode = 0),
    () => (process.exitCode = EXIT.internal),
  );
} else
  void runCli(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    // isatty, not process.stdin.isTTY: that getter builds a stdin stream (a socket for a pipe) every run.
    stdinIsTty: isatty(0),
    env: process.env,
  }).then((exitCode) => {
    settled = true;
    // exitCode, not exit(): lets stdout drain to pipes and files first.
    process.exitCode = exitCode;
    keepOutcomeOnLateSignals(exitCode);
  });

/**
 * The outcome is decided and reported: a Ctrl-C or SIGTERM arriving while stdout drains must not
 * turn a finished upgrade into "killed by SIGINT". A second signal ends the process at once,
 * still with the command's own exit code.
 */
function keepOutcomeOnLateSignals(exitCode: number): void {
  let seen = false;
  for (const signal of Object.keys(INTERRUPT_SIGNALS) as Array<keyof typeof INTERRUPT_SIGNALS>) {
    process.on(signal, () => {
      if (seen) process.exit(exitCode);
      seen = true;
    });
  }
}
