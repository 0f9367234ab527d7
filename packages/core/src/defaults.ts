// Every default duration and limit of the library, in one place. Options left undefined take
// these values (the CLI passes undefined for a flag not given, so the library's default applies).
// docs/design.md "Defaults" lists them; a unit test keeps the two in step.

export const DEFAULTS = {
  /** stop, apply, rollback, recover: SIGTERM, then this long before the race-free force. */
  stopGraceMs: 5_000,
  /** sweep (and watch, which sweeps): orphans get a shorter grace, they have no one to answer to. */
  sweepGraceMs: 2_000,
  /** run: what CMD left behind gets this long after SIGTERM. */
  runGraceMs: 2_000,
  /** stop, apply, rollback, recover: the whole stop, verification included; each fetch of a feed. */
  timeoutMs: 30_000,
  /** run: how long to wait for what CMD left behind to end after CMD exited. */
  runTimeoutMs: 10_000,
  /** After each tier's polite request: how long to wait for it before the next tier. */
  tierWaitMs: 5_000,
  /** Lower bound for one service manager call (systemctl stop/start, launchctl). */
  minServiceCallMs: 1_000,
  /** `systemctl show` while matching units, one `sc.exe` call. */
  serviceQueryMs: 5_000,
  serviceCallMs: 30_000,
  /** Polling a service manager until a service is stopped or running. */
  servicePollMs: 250,
  /** health gate: a server that did not answer before must stay up this long after the restart. */
  healthStayUpMs: 3_000,
  /** health gate: first poll interval, growing by 1.5× to the maximum. */
  healthPollMs: 250,
  healthMaxPollMs: 1_000,
  /** health gate: one probe of the health URL. */
  healthProbeMs: 2_000,
  /** The package's smoke command (`smoke` in the manifest), at most. */
  smokeTimeoutMs: 15_000,
  /** The profile's version command (`ollama --version`). */
  versionCommandMs: 10_000,
  /** watch: how often the process list is re-read for new orphans, and a full rescan at most this far apart. */
  watchRescanMs: 2_000,
  watchFullRescanMs: 60_000,
  /** run: how often descendants are re-read (identities, zombie reaping). */
  guardTrackIntervalMs: 250,
  /** lock: attempts to create the lock file before giving up (each a fresh O_EXCL try). */
  lockAttempts: 200,
} as const;

export type Defaults = typeof DEFAULTS;
