import { terminate } from './terminate.js';
import type { StopOptions, StopResult } from './types.js';

/**
 * Ends orphans only (in-scope processes without a live in-scope parent that are not a
 * top-level supervisor or server) and their descendants: a healthy server and its engines
 * keep running. "Free my VRAM". Services are left alone and holders are not required to be clear.
 */
export function sweep(opts: StopOptions): Promise<StopResult> {
  // graceMs left undefined: terminate gives sweep DEFAULTS.sweepGraceMs.
  return terminate({ ...opts, skipServices: true }, 'sweep');
}
