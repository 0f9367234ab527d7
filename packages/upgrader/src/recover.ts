import { installLayout } from './layout.js';
import { acquireLock } from './transaction/lock.js';
import { type RecoverOptions, type RecoverResult, recoverUnderLock } from './transaction/recover.js';

export type { RecoverOptions, RecoverResult } from './transaction/recover.js';

/** `llm-upgrade recover`: take the lock, finish any interrupted transaction. Idempotent. */
export async function recover(opts: RecoverOptions): Promise<RecoverResult> {
  const lock = await acquireLock(installLayout(opts.roots).base, 'recover');
  try {
    return await recoverUnderLock(opts);
  } finally {
    await lock.release();
  }
}
