// Public API of llm-upgrade (the upgrader library). The CLI in src/cli is a thin layer over it.
export { readInstalledState, STATE_DIR, type InstalledState } from './installed.js';
export { runCli, type CliIo } from './cli/run.js';
export { VERSION } from './version.js';
