import type { CommandName } from '../args.js';
import type { CommandHandler } from './types.js';

/** Commands load lazily so `llm-upgrade stop` in a custom action loads no archive code. */
export const commandLoaders: Partial<Record<CommandName, () => Promise<CommandHandler>>> = {
  status: async () => (await import('./status.js')).statusCommand,
  stop: async () => (await import('./stop.js')).stopCommand,
  sweep: async () => (await import('./stop.js')).sweepCommand,
  holders: async () => (await import('./holders.js')).holdersCommand,
  apply: async () => (await import('./apply.js')).applyCommand,
  rollback: async () => (await import('./rollback.js')).rollbackCommand,
  recover: async () => (await import('./recover.js')).recoverCommand,
  check: async () => (await import('./check.js')).checkCommand,
  pack: async () => (await import('./pack.js')).packCommand,
  run: async () => (await import('./run.js')).runCommand,
  watch: async () => (await import('./watch.js')).watchCommand,
};
