// One factory per error code, each with that code's typed `details` (errors.ts,
// ErrorDetailsByCode). The library builds its errors through these, never inline.
import { LlmUpgradeError, type ErrorCode, type LlmUpgradeErrorInit } from './errors.js';

export type ErrorInit<C extends ErrorCode> = Omit<LlmUpgradeErrorInit<C>, 'code'>;

// ERR_INTERRUPTED's factory is errors.ts' interruptedError(signal, phase, changed): its exit code follows the signal.
function factory<C extends ErrorCode>(code: C): (init: ErrorInit<C>) => LlmUpgradeError<C> {
  return (init) => new LlmUpgradeError<C>({ code, ...init });
}

export const usageError = factory('ERR_USAGE');
export const badPackageError = factory('ERR_BAD_PACKAGE');
export const unsafeEntryError = factory('ERR_UNSAFE_ENTRY');
export const hashMismatchError = factory('ERR_HASH_MISMATCH');
export const badChecksumError = factory('ERR_BAD_CHECKSUM');
export const signatureError = factory('ERR_SIGNATURE');
export const notSemverError = factory('ERR_NOT_SEMVER');
export const downgradeError = factory('ERR_DOWNGRADE');
export const fetchError = factory('ERR_FETCH');
export const diskFullError = factory('ERR_DISK_FULL');
export const readOnlyError = factory('ERR_READ_ONLY');
export const selfInScopeError = factory('ERR_SELF_IN_SCOPE');
export const survivorsError = factory('ERR_SURVIVORS');
export const filesHeldError = factory('ERR_FILES_HELD');
export const postCheckError = factory('ERR_POST_CHECK');
export const healthError = factory('ERR_HEALTH');
export const lockedError = factory('ERR_LOCKED');
export const noBackupError = factory('ERR_NO_BACKUP');
export const unsupportedPlatformError = factory('ERR_UNSUPPORTED_PLATFORM');
export const noSuchRootError = factory('ERR_NO_SUCH_ROOT');
export const rootTooBroadError = factory('ERR_ROOT_TOO_BROAD');
export const abortedError = factory('ERR_ABORTED');
export const toolFailedError = factory('ERR_TOOL_FAILED');
export const badDescriptionError = factory('ERR_BAD_DESCRIPTION');
export const internalError = factory('ERR_INTERNAL');
