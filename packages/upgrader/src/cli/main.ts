#!/usr/bin/env node
import { runCli } from './run.js';

// No top-level await: this file is also bundled to CommonJS for the single executable.
void runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdinIsTty: process.stdin.isTTY === true,
  env: process.env,
}).then((exitCode) => {
  // exitCode, not exit(): lets stdout drain to pipes and files first.
  process.exitCode = exitCode;
});
