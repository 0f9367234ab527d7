// Public API of @llm-upgrade/core. The library never prints and never exits: progress goes
// through `onEvent` callbacks and failures are thrown as LlmUpgradeError.
export * from './types.js';
export * from './errors.js';
export { DEFAULTS, type Defaults } from './defaults.js';
export * as errors from './error-factories.js';
export { getBackend, platformKey, currentOs } from './platform/index.js';
export type { PlatformBackend, SignalOutcome, ForceKillContext } from './platform/index.js';
export { stop } from './stop.js';
export { sweep } from './sweep.js';
export { scanHolders } from './holders.js';
export { status } from './status.js';
export { classify, isUnderRoot, roleOf, withDescendants } from './scope.js';
export {
  ollamaProfile,
  ollamaReleaseAssets,
  builtinProfiles,
  loadProfile,
  validateProfile,
  resolveProfile,
  defaultRoots,
  expandPath,
  whichOnPath,
} from './profile.js';
export { resolveRoots, assertRootsExist, localRootGuardContext, withAliases } from './roots.js';
export { thawRecorded } from './thaw.js';
export type { ThawResult } from './thaw.js';
export { frozenRecordDir } from './frozen-record.js';
export { rootTooBroadReason, assertRootsNotTooBroad } from './root-guard.js';
export type { RootGuardContext } from './root-guard.js';
export { parseDuration } from './duration.js';
export { parseNvidiaSmi } from './gpu.js';
export { getGuardBackend } from './platform/index.js';
export { runGuarded, exitStatusOf } from './guard/run-guarded.js';
export { runWatchdog } from './guard/watchdog.js';
export { watchdogMain, WATCHDOG_ENV } from './guard/watchdog-main.js';
export { Lineage } from './guard/lineage.js';
export type {
  RunGuardedOptions,
  GuardResult,
  GuardEvent,
  GuardedProcess,
  GuardBackend,
  Containment,
  LineageEntry,
  WatchdogCommand,
} from './guard/types.js';
export { watchInstall } from './guard/watch.js';
export type { WatchOptions, WatchEvent, WatchSummary } from './guard/watch.js';
export { parentGone, splitOrphans, recordParents } from './guard/orphans.js';
export { processDetails, listeningOf, type ProcessDetails, type ListeningSocket } from './process-details.js';
