// What Linux and macOS share: signals by pid and the race-free freeze-kill.
export { sendSignal } from './signal.js';
export { freezeKill, FREEZE_ROUNDS, type PosixOps } from './freeze-kill.js';
