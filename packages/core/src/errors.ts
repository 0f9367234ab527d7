/** Phases a failure can happen in; the CLI reports it and the exit code follows the error code. */
export type Phase =
  | 'usage'
  | 'lock'
  | 'recover'
  | 'resolve'
  | 'fetch'
  | 'verify'
  | 'stage'
  | 'stop'
  | 'sweep'
  | 'holders'
  | 'swap'
  | 'post-check'
  | 'restart'
  | 'health'
  | 'commit'
  | 'rollback'
  | 'pack'
  | 'status'
  /** installer-hooks: rendering and building an installer. */
  | 'build';

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
  | 'ERR_TOOL_FAILED'
  | 'ERR_BAD_DESCRIPTION'
  | 'ERR_INTERNAL';

/**
 * Exit codes fixed by the CLI contract (docs/design.md, "Exit codes"). The one table: the CLI
 * and installer-hooks (the MSI/NSIS/Inno custom actions) import it; a unit test checks that
 * docs/design.md lists every value. `updateAvailable` is `check --exit-code`'s "not an error"
 * (1–5 are taken by errors, as git's 1 is not).
 */
export const EXIT = {
  ok: 0,
  internal: 1,
  badInput: 2,
  held: 3,
  rolledBack: 4,
  locked: 5,
  updateAvailable: 10,
  hangup: 129,
  interrupted: 130,
  terminated: 143,
} as const;

/** The signals every command handles (SIGINT, SIGTERM, SIGHUP) and the exit code each maps to (128 + N). */
export const INTERRUPT_SIGNALS = { SIGHUP: EXIT.hangup, SIGINT: EXIT.interrupted, SIGTERM: EXIT.terminated } as const;
export type InterruptSignal = keyof typeof INTERRUPT_SIGNALS;

/** The exit code of every error code (docs/design.md "Error codes" lists each). */
export const EXIT_BY_CODE: Readonly<Record<ErrorCode, number>> = {
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
  // installer-hooks: a build tool (wixl, makensis, ISCC, osslsigncode) failed, or the installer description is invalid.
  ERR_TOOL_FAILED: EXIT.internal,
  ERR_BAD_DESCRIPTION: EXIT.badInput,
  ERR_INTERNAL: EXIT.internal,
};

/** The exit code each error code ends a command with (ERR_INTERRUPTED: 128 + N of its signal). */
export function exitCodeFor(code: ErrorCode): number {
  return EXIT_BY_CODE[code];
}

/** Fields the transaction adds to any error: what happened to the install after the failure. */
export interface OutcomeDetails {
  rolledBack?: boolean;
  movesUndone?: number;
  oldRestarted?: string | null;
  from?: string | null;
  to?: string | null;
  logFile?: string;
  committed?: boolean;
  rollbackError?: LlmUpgradeErrorJson;
}

/** Structured detail per code, for --json (`error.details`). */
export interface ErrorDetailsByCode {
  ERR_USAGE: { flag?: string; value?: string; positional?: string; root?: string; unlisted?: string[]; platform?: string };
  ERR_BAD_PACKAGE: {
    entry?: string;
    installed?: string;
    package?: string;
    version?: string;
    path?: string;
    url?: string;
    root?: string;
    archive?: string;
    command?: string[];
    output?: string;
  };
  ERR_UNSAFE_ENTRY: { entry: string; reason?: string };
  ERR_HASH_MISMATCH: {
    entry?: string;
    url?: string;
    sha256?: string;
    expectedSha256?: string;
    size?: number;
    expectedSize?: number;
    checksums?: string;
    asset?: string;
    sha256sum?: string;
    digest?: string;
  };
  ERR_BAD_CHECKSUM: { archive: string; path?: string; url?: string; sha256?: string; expectedSha256?: string; expectedFrom?: string };
  ERR_SIGNATURE: { path?: string };
  ERR_NOT_SEMVER: { version?: string; tag?: string };
  ERR_DOWNGRADE: { from?: string | null; to?: string };
  ERR_FETCH: {
    url?: string;
    status?: number;
    path?: string;
    redirectedTo?: string;
    feed?: string;
    asset?: string;
    lookedFor?: string[];
    assets?: string[];
  };
  ERR_DISK_FULL: {
    path?: string;
    url?: string;
    dir?: string;
    needBytes?: number;
    freeBytes?: number;
    needInodes?: number;
    freeInodes?: number | null;
  };
  ERR_READ_ONLY: { path?: string };
  ERR_SELF_IN_SCOPE: { pid: number; exe: string | null; name: string };
  ERR_SURVIVORS: { survivors?: unknown[]; holders?: unknown[]; stopped?: unknown[]; service?: string };
  ERR_FILES_HELD: { survivors?: unknown[]; holders?: unknown[]; stopped?: unknown[] };
  ERR_POST_CHECK: { path?: string; command?: string[]; output?: string };
  ERR_HEALTH: {
    url?: string;
    last?: string;
    logFile?: string;
    pids?: number[];
    ports?: number[];
    missing?: number[];
    service?: string;
    unit?: string;
    mainPid?: number;
    exe?: string | null;
    now?: { active: string; sub: string; mainPid: number };
  };
  ERR_LOCKED: { lock: string; pid?: number; command?: string; since?: string; hostname?: string };
  ERR_NO_BACKUP: { backup?: string; replacedBy?: string | null; committedAt?: string | null };
  ERR_UNSUPPORTED_PLATFORM: { platform?: string };
  ERR_NO_SUCH_ROOT: { root?: string };
  ERR_ROOT_TOO_BROAD: { root: string; why: string };
  ERR_INTERRUPTED: { signal: InterruptSignal };
  ERR_ABORTED: Record<string, never>;
  ERR_TOOL_FAILED: { tool: string; args?: string[]; exitCode?: number | null; stderr?: string };
  ERR_BAD_DESCRIPTION: { field?: string; file?: string };
  ERR_INTERNAL: Record<string, never>;
}

export type ErrorDetails<C extends ErrorCode = ErrorCode> = ErrorDetailsByCode[C] & OutcomeDetails;

export interface LlmUpgradeErrorJson {
  code: ErrorCode;
  message: string;
  hint: string;
  phase: Phase;
  changed: boolean;
  details?: ErrorDetails;
}

export interface LlmUpgradeErrorInit<C extends ErrorCode = ErrorCode> {
  code: C;
  message: string;
  /** One line: what to do next. */
  hint: string;
  phase: Phase;
  /** Whether anything on disk or any process was changed before the failure. */
  changed: boolean;
  /** Structured detail for --json (survivors, holders, the path or entry at fault...). */
  details?: ErrorDetails<C> | undefined;
  cause?: unknown;
}

/** The one error type the library throws on purpose. Messages name the path and pid involved. */
export class LlmUpgradeError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;
  readonly hint: string;
  readonly phase: Phase;
  readonly changed: boolean;
  readonly details: ErrorDetails<C> | undefined;

  constructor(init: LlmUpgradeErrorInit<C>) {
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
      const signal = (this.details as ErrorDetails<'ERR_INTERRUPTED'> | undefined)?.signal;
      if (typeof signal === 'string' && signal in INTERRUPT_SIGNALS) return INTERRUPT_SIGNALS[signal as InterruptSignal];
    }
    return EXIT_BY_CODE[this.code];
  }

  toJSON(): LlmUpgradeErrorJson {
    return {
      code: this.code,
      message: this.message,
      hint: this.hint,
      phase: this.phase,
      changed: this.changed,
      ...(this.details ? { details: this.details } : {}),
    };
  }
}

export function isLlmUpgradeError(e: unknown): e is LlmUpgradeError {
  return e instanceof LlmUpgradeError;
}

/** Narrows an error to one code, so its `details` have that code's type. */
export function hasCode<C extends ErrorCode>(e: unknown, code: C): e is LlmUpgradeError<C> {
  return e instanceof LlmUpgradeError && e.code === code;
}

/** Wraps anything unexpected as ERR_INTERNAL, keeping our own errors as they are. */
export function toLlmUpgradeError(e: unknown, phase: Phase, changed: boolean): LlmUpgradeError {
  if (e instanceof LlmUpgradeError) return e;
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'ENOSPC') {
    return new LlmUpgradeError({
      code: 'ERR_DISK_FULL',
      message: `disk full${err.path ? ` writing ${err.path}` : ''}`,
      hint: 'Free disk space on the install volume and run the command again.',
      phase,
      changed,
      cause: e,
    });
  }
  if (err?.code === 'EROFS' || err?.code === 'EACCES' || err?.code === 'EPERM') {
    return new LlmUpgradeError({
      code: 'ERR_READ_ONLY',
      message: `${err.code}: cannot write${err.path ? ` ${err.path}` : ''}`,
      hint: 'Run as a user who can write the install (root/Administrator), or remount it read-write.',
      phase,
      changed,
      cause: e,
    });
  }
  return new LlmUpgradeError({
    code: 'ERR_INTERNAL',
    message: err?.message ?? String(e),
    hint: 'This is a bug or an unexpected system state; re-run with --log-file and report the log.',
    phase,
    changed,
    cause: e,
  });
}

/** The error a command ends with after SIGINT/SIGTERM/SIGHUP: exit 128 + N, and whether anything changed first. */
export function interruptedError(signal: InterruptSignal, phase: Phase, changed: boolean, what = ''): LlmUpgradeError {
  return new LlmUpgradeError({
    code: 'ERR_INTERRUPTED',
    message: `interrupted by ${signal}${what ? `: ${what}` : ''}`,
    hint: changed
      ? 'Run `llm-upgrade status` to see the state, and `llm-upgrade recover` if it reports an unfinished transaction.'
      : 'Nothing was changed; run the command again when you are ready.',
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
