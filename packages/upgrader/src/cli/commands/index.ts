import type { CommandName } from '../args.js';
import type { CommandHandler } from './types.js';
import { guarded } from './guarded.js';

/** Commands load lazily so `llm-upgrade stop` in a custom action loads no archive code. */
export const commandLoaders: Partial<Record<CommandName, () => Promise<CommandHandler>>> = {
  status: async () => (await import('./status.js')).statusCommand,
  stop: async () => guarded('stop', (await import('./stop.js')).stopCommand),
  sweep: async () => guarded('sweep', (await import('./stop.js')).sweepCommand),
  holders: async () => (await import('./holders.js')).holdersCommand,
  apply: async () => (await import('./apply.js')).applyCommand, // asks itself: the question shows the plan it executes
  rollback: async () => guarded('rollback', (await import('./rollback.js')).rollbackCommand),
  recover: async () => (await import('./recover.js')).recoverCommand,
  check: async () => (await import('./check.js')).checkCommand,
  completion: async () => (await import('./completion.js')).completionCommand,
  pack: async () => (await import('./pack.js')).packCommand,
  run: async () => (await import('./run.js')).runCommand,
  watch: async () => (await import('./watch.js')).watchCommand,
};
