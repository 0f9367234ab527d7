// Public API of llm-upgrade (the upgrader library). The CLI in src/cli is a thin layer over it.
export { readInstalledState, STATE_DIR, type InstalledState } from './installed.js';
export { runCli, type CliIo } from './cli/run.js';
export { VERSION } from './version.js';
export {
  apply,
  planApply,
  executeApply,
  discardApplyPlan,
  type ApplyOptions,
  type ApplyPlan,
  type ApplyResult,
  type PlannedProcess,
  type PlanStep,
} from './apply/index.js';
export { rollback, type RollbackOptions, type RollbackResult } from './rollback.js';
export { recover, type RecoverOptions, type RecoverResult } from './recover.js';
export { recoverUnderLock } from './transaction/recover.js';
export {
  checkFeed,
  fetchFeed,
  newestFor,
  download,
  type CheckOptions,
  type CheckResult,
  type Feed,
  type FeedRelease,
  type FeedAsset,
} from './feed.js';
export { pack, type PackOptions, type PackResult } from './pack.js';
export { parseManifest, serializeManifest, type Manifest, type ManifestFile, type ManifestLink } from './manifest.js';
export { signManifest, verifyManifestSignature, loadPrivateKey, loadPublicKey, parsePublicKey } from './signature.js';
export { acquireLock, type LockHandle, type LockInfo } from './transaction/lock.js';
export { readJournal, type Journal, type JournalState, type MoveOp, type RestartPlan } from './transaction/journal.js';
export { inScopeAncestor, relaunchDetached, waitForRelaunchParent, RELAUNCH_ENV } from './self-relaunch.js';
export { openSource, type PackageSource } from './source/open.js';
export { verifyPackage, type VerifiedPackage } from './source/verify.js';
export { statePaths, MANIFEST_NAME, SIGNATURE_NAME } from './paths.js';
export type { UpgradeEvent, UpgradeEventSink } from './events.js';
export { fetchText, type DownloadAsset, type FetchOptions } from './feed.js';
export { installLayout, prefixOf, type InstallLayout } from './layout.js';
export { parseSha256Sums, normaliseDigest } from './foreign/checksums.js';
export { parseVersionOutput } from './foreign/version-output.js';
export { zstdDecompress, zstdDecoder } from './foreign/zstd.js';
export { archiveName, stageForeignArchives, type ForeignArchive, type StagedTree } from './foreign/stage-archives.js';
export { expectedDigests, resolveForeignArchives, type ForeignSourceOptions } from './foreign/resolve.js';
