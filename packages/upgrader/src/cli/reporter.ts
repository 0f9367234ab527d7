import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { LlmUpgradeError } from '@llm-upgrade/core';

/** Any progress event from the core or the upgrader library. */
export interface ProgressEvent {
  type: string;
  [key: string]: unknown;
}

export interface ReporterOptions {
  json: boolean;
  quiet: boolean;
  /** Every event as a line (pids, paths), not only the ones worth a line. */
  verbose?: boolean;
  logFile: string | undefined;
  /** Where confirm() reads the answer (default: process.stdin). */
  stdin?: NodeJS.ReadableStream;
  /**
   * --yes, or implied because stdin or stderr is not a TTY (parseCommandLine): never ask. Without
   * it (and without --dry-run) stop, sweep, apply and rollback ask before changing anything.
   */
  yes?: boolean;
  dryRun?: boolean;
  /** Tests: ask regardless of yes/dryRun. */
  interactive?: boolean;
  /** The command's --grace and --timeout, for "grace ends in 3.1s". */
  graceMs?: number;
  timeoutMs?: number;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  env: NodeJS.ProcessEnv;
  command: string;
}

const QUESTION_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * All output of the CLI goes through here: the report (what a command found or did) on stdout,
 * so `status > file` and `status | grep` work; progress, warnings and errors on stderr (a live
 * line on a TTY, plain lines otherwise); exactly one JSON document on stdout with --json, and
 * JSON lines in --log-file (the MSI/NSIS custom actions' only record).
 */
export class Reporter {
  private readonly live: boolean;
  private readonly color: boolean;
  private liveLine = '';
  private frame = 0;
  private readonly lastTick = new Map<string, number>();

  constructor(private readonly opts: ReporterOptions) {
    this.live = !opts.json && !opts.quiet && opts.stderr.isTTY === true && opts.env.TERM !== 'dumb';
    this.color = opts.stderr.isTTY === true && !('NO_COLOR' in opts.env) && opts.env.TERM !== 'dumb';
    if (opts.logFile) mkdirSync(dirname(opts.logFile), { recursive: true });
    this.log({ type: 'start', command: opts.command, argv: process.argv.slice(2), pid: process.pid });
  }

  /**
   * A progress event, shown unless quiet or json and written to the log file. A `ticker` event
   * repeats while something progresses (waiting, downloading, staging): it is rate-limited per
   * event type — every 100 ms on a TTY's live line, once a second elsewhere, so the logs of
   * custom actions and CI stay readable — and logged only when shown.
   */
  event(event: ProgressEvent, human?: string, ticker = false): void {
    if (this.opts.verbose && !this.live && !this.opts.json) {
      // Verbose off a TTY: every event, none rate-limited (the log file has the same in JSON).
      this.log(event);
      this.progress(human ?? describeRaw(event));
      return;
    }
    if (ticker) {
      const now = Date.now();
      if (now - (this.lastTick.get(event.type) ?? 0) < (this.live ? 100 : 1_000)) return;
      this.lastTick.set(event.type, now);
    }
    this.log(event);
    if (human) this.progress(human);
    else if (this.opts.verbose) this.progress(describeRaw(event));
  }

  get verbose(): boolean {
    return this.opts.verbose === true;
  }

  get interactive(): boolean {
    return this.opts.interactive ?? (this.opts.yes === false && this.opts.dryRun !== true);
  }

  get durations(): { graceMs: number | undefined; timeoutMs: number | undefined } {
    return { graceMs: this.opts.graceMs, timeoutMs: this.opts.timeoutMs };
  }

  /** A transient progress line (overwritten on a TTY). */
  progress(text: string): void {
    if (this.opts.json || this.opts.quiet) return;
    if (this.live) {
      this.liveLine = `${SPINNER[this.frame++ % SPINNER.length]} ${text}`;
      // A pty may report 0 columns: treat that as unknown.
      const width = this.opts.stderr.columns || 100;
      this.opts.stderr.write(`\r\x1b[2K${this.liveLine.slice(0, width - 1)}`);
    } else {
      this.opts.stderr.write(`${text}\n`);
    }
  }

  /**
   * A line that stays: `info` is the command's report and goes to stdout (`status > file`,
   * `status | grep`); `warn` goes to stderr. Shown unless json; quiet keeps warnings only.
   */
  line(text: string, level: 'info' | 'warn' = 'info'): void {
    this.log({ type: 'message', level, message: text });
    if (this.opts.json || (this.opts.quiet && level === 'info')) return;
    this.clearLive();
    if (level === 'warn') this.opts.stderr.write(`${this.paint('33', 'warning: ')}${text}\n`);
    else this.opts.stdout.write(`${text}\n`);
  }

  /** A line about the run that is not part of the report (a plan before a question): stderr. */
  note(text: string): void {
    this.log({ type: 'message', level: 'note', message: text });
    if (this.opts.json) return;
    this.clearLive();
    this.opts.stderr.write(`${text}\n`);
  }

  /**
   * Asks a yes/no question on stderr and reads the answer from stdin; anything but y/yes is no.
   * The caller decides whether to ask at all (a TTY on stdin and stderr, no --yes).
   */
  async confirm(question: string): Promise<boolean> {
    this.clearLive();
    const stdin = this.opts.stdin ?? process.stdin;
    // Loaded on the first question only: most runs never ask one.
    const { createInterface } = await import('node:readline');
    const rl = createInterface({ input: stdin, output: this.opts.stderr, terminal: false });
    let onSignal = () => {};
    try {
      const answer = await new Promise<string | null>((resolve) => {
        rl.once('line', resolve);
        rl.once('close', () => resolve(null));
        // Ctrl-C at the question is a no; the command's own handler would wait for the answer.
        onSignal = () => resolve(null);
        for (const s of QUESTION_SIGNALS) process.on(s, onSignal);
        this.opts.stderr.write(`${question} [y/N] `);
      });
      this.log({ type: 'confirm', question, answer });
      return answer !== null && /^\s*y(es)?\s*$/i.test(answer);
    } finally {
      rl.close();
      for (const s of QUESTION_SIGNALS) process.off(s, onSignal);
    }
  }

  paint(code: string, text: string): string {
    return this.color ? `\x1b[${code}m${text}\x1b[0m` : text;
  }

  /**
   * The command's result document. A command that ran to its end without getting there (stop's
   * exit 3) puts an LlmUpgradeError under `error`: JSON shows its toJSON(), humans get the error line.
   */
  result(doc: object, exitCode: number): void {
    this.log({ type: 'result', exitCode, result: doc });
    this.clearLive();
    const error = (doc as { error?: unknown }).error;
    if (this.opts.json) this.opts.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    else if (error instanceof LlmUpgradeError) this.error(error);
  }

  error(err: LlmUpgradeError): void {
    this.log({ type: 'error', exitCode: err.exitCode, error: err.toJSON() });
    this.clearLive();
    if (this.opts.json) {
      this.opts.stdout.write(`${JSON.stringify({ ok: false, error: err.toJSON() }, null, 2)}\n`);
      return;
    }
    this.opts.stderr.write(
      `${this.paint('31', 'error')} [${err.code}, ${err.phase}${err.details?.rolledBack === true ? ', rolled back: the install is as it was' : err.changed ? ', changes were made' : ', nothing changed'}]: ${err.message}\n`,
    );
    if (err.hint) this.opts.stderr.write(`  ${this.paint('36', 'hint:')} ${err.hint}\n`);
  }

  private clearLive(): void {
    if (this.live && this.liveLine) {
      this.opts.stderr.write('\r\x1b[2K');
      this.liveLine = '';
    }
  }

  private log(event: ProgressEvent): void {
    if (!this.opts.logFile) return;
    try {
      appendFileSync(this.opts.logFile, `${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`);
    } catch {
      // A log we cannot write must not change the outcome of an upgrade.
    }
  }
}

/** An event no human text was written for, as `type key=value ...` (verbose only). */
function describeRaw(event: ProgressEvent): string {
  const fields = Object.entries(event)
    .filter(([k]) => k !== 'type')
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return [event.type, ...fields].join(' ');
}
