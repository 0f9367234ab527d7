import { terminate } from './terminate.js';
import type { StopOptions, StopResult } from './types.js';

/**
 * Stops everything in scope: services through their manager, then supervisors, servers and
 * engines politely, then a race-free force; verifies that nothing under a root is still held.
 * Returns ok:false (never throws) for survivors or held files; throws ERR_SELF_IN_SCOPE before
 * signalling anything when our own process or an ancestor is in scope.
 */
export function stop(opts: StopOptions): Promise<StopResult> {
  return terminate(opts, 'stop');
}
