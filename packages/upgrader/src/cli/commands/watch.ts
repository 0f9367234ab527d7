import { LlmUpgradeError } from '@llm-upgrade/core';
import type { CommandHandler } from './types.js';

const watch: CommandHandler = async () => {
  throw new LlmUpgradeError({ code: 'ERR_USAGE', message: 'watch is not available yet', hint: 'Use `llm-upgrade sweep`.', phase: 'usage', changed: false });
};

export const watchCommand: CommandHandler = Object.assign(watch, { handlesSignals: true });
