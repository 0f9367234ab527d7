/** Phases a failure can happen in; the CLI reports it and the exit code follows the error code. */
export type Phase =
  | 'usage' | 'lock' | 'recover' | 'resolve' | 'fetch' | 'verify' | 'stage'
  | 'stop' | 'sweep' | 'holders' | 'swap' | 'post-check' | 'restart' | 'health'
  | 'commit' | 'rollback' | 'pack' | 'status';

export type ErrorCode =
  | 'ERR_USAGE'
  | 'ERR_BAD_PACKAGE'
  | 'ERR_UNSAFE_ENTRY'
  | 'ERR_HASH_MISMATCH'
  | 'ERR_BAD_CHECKSUM'
  | 'ERR_SIGNATURE'
  | 'ERR_NOT_SEMVER'
  | 'ERR_DOWNGRADE'
  | 'ERR_FETCH'
  | 'ERR_DISK_FULL'
  | 'ERR_READ_ONLY'
  | 'ERR_SELF_IN_SCOPE'
  | 'ERR_SURVIVORS'
  | 'ERR_FILES_HELD'
  | 'ERR_POST_CHECK'
  | 'ERR_HEALTH'
  | 'ERR_LOCKED'
  | 'ERR_NO_BACKUP'
  | 'ERR_UNSUPPORTED_PLATFORM'
  | 'ERR_NO_SUCH_ROOT'
  | 'ERR_ROOT_TOO_BROAD'
  | 'ERR_INTERRUPTED'
  | 'ERR_ABORTED'
  | 'ERR_INTERNAL';

/** Exit codes fixed by the CLI contract (DESIGN.md). */
export const EXIT = { ok: 0, internal: 1, badInput: 2, held: 3, rolledBack: 4, locked: 5, hangup: 129, interrupted: 130, terminated: 143 } as const;

/** The signals every command handles (SIGINT, SIGTERM, SIGHUP) and the exit code each maps to (128 + N). */
export const INTERRUPT_SIGNALS = { SIGHUP: EXIT.hangup, SIGINT: EXIT.interrupted, SIGTERM: EXIT.terminated } as const;
export type InterruptSignal = keyof typeof INTERRUPT_SIGNALS;

const exitByCode: Record<ErrorCode, number> = {
  ERR_USAGE: EXIT.badInput,
  ERR_BAD_PACKAGE: EXIT.badInput,
  ERR_UNSAFE_ENTRY: EXIT.badInput,
  ERR_HASH_MISMATCH: EXIT.badInput,
  // An archive without a manifest whose SHA-256 differs from its checksum line or release digest.
  ERR_BAD_CHECKSUM: EXIT.badInput,
  ERR_SIGNATURE: EXIT.badInput,
  ERR_NOT_SEMVER: EXIT.badInput,
  ERR_DOWNGRADE: EXIT.badInput,
  ERR_FETCH: EXIT.badInput,
  // Staging runs before anything is swapped: the install is untouched, as for bad input.
  ERR_DISK_FULL: EXIT.badInput,
  ERR_READ_ONLY: EXIT.internal,
  ERR_SELF_IN_SCOPE: EXIT.held,
  ERR_SURVIVORS: EXIT.held,
  ERR_FILES_HELD: EXIT.held,
  ERR_POST_CHECK: EXIT.rolledBack,
  ERR_HEALTH: EXIT.rolledBack,
  ERR_LOCKED: EXIT.locked,
  ERR_NO_BACKUP: EXIT.badInput,
  ERR_UNSUPPORTED_PLATFORM: EXIT.internal,
  ERR_NO_SUCH_ROOT: EXIT.badInput,
  ERR_ROOT_TOO_BROAD: EXIT.badInput,
  // 128 + the signal's number; see exitCode.
  ERR_INTERRUPTED: EXIT.interrupted,
  // The user answered no at a confirmation prompt: nothing was done, but it did not happen either.
  ERR_ABORTED: EXIT.internal,
  ERR_INTERNAL: EXIT.internal,
};

export interface LlmUpgradeErrorInit {
  code: ErrorCode;
  message: string;
  /** One line: what to do next. */
  hint: string;
  phase: Phase;
  /** Whether anything on disk or any process was changed before the failure. */
  changed: boolean;
  /** Structured detail for --json (survivors, holders, the path or entry at fault...). */
  details?: Record<string, unknown>;
  cause?: unknown;
}

/** The one error type the library throws on purpose. Messages name the path and pid involved. */
export class LlmUpgradeError extends Error {
  readonly code: ErrorCode;
  readonly hint: string;
  readonly phase: Phase;
  readonly changed: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(init: LlmUpgradeErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'LlmUpgradeError';
    this.code = init.code;
    this.hint = init.hint;
    this.phase = init.phase;
    this.changed = init.changed;
    this.details = init.details;
  }

  get exitCode(): number {
    if (this.code === 'ERR_INTERRUPTED') {
      const signal = this.details?.signal;
      if (typeof signal === 'string' && signal in INTERRUPT_SIGNALS) return INTERRUPT_SIGNALS[signal as InterruptSignal];
    }
    return exitByCode[this.code];
  }

  toJSON(): { code: ErrorCode; message: string; hint: string; phase: Phase; changed: boolean; details?: Record<string, unknown> } {
    return { code: this.code, message: this.message, hint: this.hint, phase: this.phase, changed: this.changed, ...(this.details ? { details: this.details } : {}) };
  }
}

export function isLlmUpgradeError(e: unknown): e is LlmUpgradeError {
  return e instanceof LlmUpgradeError;
}

/** Wraps anything unexpected as ERR_INTERNAL, keeping our own errors as they are. */
export function toLlmUpgradeError(e: unknown, phase: Phase, changed: boolean): LlmUpgradeError {
  if (e instanceof LlmUpgradeError) return e;
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ENOSPC') {
    return new LlmUpgradeError({ code: 'ERR_DISK_FULL', message: `disk full${err.path ? ` writing ${err.path}` : ''}`, hint: 'Free disk space on the install volume and run the command again.', phase, changed, cause: e });
  }
  if (err?.code === 'EROFS' || err?.code === 'EACCES' || err?.code === 'EPERM') {
    return new LlmUpgradeError({ code: 'ERR_READ_ONLY', message: `${err.code}: cannot write${err.path ? ` ${err.path}` : ''}`, hint: 'Run as a user who can write the install (root/Administrator), or remount it read-write.', phase, changed, cause: e });
  }
  return new LlmUpgradeError({ code: 'ERR_INTERNAL', message: err?.message ?? String(e), hint: 'This is a bug or an unexpected system state; re-run with --log-file and report the log.', phase, changed, cause: e });
}

/** The error a command ends with after SIGINT/SIGTERM/SIGHUP: exit 128 + N, and whether anything changed first. */
export function interruptedError(signal: InterruptSignal, phase: Phase, changed: boolean, what = ''): LlmUpgradeError {
  return new LlmUpgradeError({
    code: 'ERR_INTERRUPTED',
    message: `interrupted by ${signal}${what ? `: ${what}` : ''}`,
    hint: changed ? 'Run `llm-upgrade status` to see the state, and `llm-upgrade recover` if it reports an unfinished transaction.' : 'Nothing was changed; run the command again when you are ready.',
    phase,
    changed,
    details: { signal },
  });
}

/** Throws interruptedError when the command's AbortSignal fired (its reason is the signal's name). */
export function throwIfInterrupted(signal: AbortSignal | undefined, phase: Phase, changed: boolean, what = ''): void {
  if (!signal?.aborted) return;
  const reason: unknown = signal.reason;
  const name: InterruptSignal = typeof reason === 'string' && reason in INTERRUPT_SIGNALS ? (reason as InterruptSignal) : 'SIGINT';
  throw interruptedError(name, phase, changed, what);
}
