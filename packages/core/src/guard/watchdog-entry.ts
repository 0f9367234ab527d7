import { watchdogMain } from './watchdog-main.js';

void watchdogMain().then(
  () => process.exit(0),
  () => process.exit(1),
);
