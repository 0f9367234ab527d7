import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LlmUpgradeError } from '@llm-upgrade/core';

/** Any progress event from the core or the upgrader library. */
export interface ProgressEvent {
  type: string;
  [key: string]: unknown;
}

export interface ReporterOptions {
  json: boolean;
  quiet: boolean;
  logFile: string | undefined;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  env: NodeJS.ProcessEnv;
  command: string;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * All output of the CLI goes through here: human progress on stderr (a live line on a TTY,
 * plain lines otherwise), exactly one JSON document on stdout with --json, and JSON lines in
 * --log-file (the MSI/NSIS custom actions' only record).
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
    if (ticker) {
      const now = Date.now();
      if (now - (this.lastTick.get(event.type) ?? 0) < (this.live ? 100 : 1_000)) return;
      this.lastTick.set(event.type, now);
    }
    this.log(event);
    if (human) this.progress(human);
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

  /** A line that stays (results, warnings). Shown unless json; quiet keeps warnings. */
  line(text: string, level: 'info' | 'warn' = 'info'): void {
    this.log({ type: 'message', level, message: text });
    if (this.opts.json || (this.opts.quiet && level === 'info')) return;
    this.clearLive();
    const prefix = level === 'warn' ? this.paint('33', 'warning: ') : '';
    this.opts.stderr.write(`${prefix}${text}\n`);
  }

  paint(code: string, text: string): string {
    return this.color ? `\x1b[${code}m${text}\x1b[0m` : text;
  }

  /** The command's result document. */
  result(doc: object, exitCode: number): void {
    this.log({ type: 'result', exitCode, result: doc });
    this.clearLive();
    if (this.opts.json) this.opts.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  }

  error(err: LlmUpgradeError): void {
    this.log({ type: 'error', exitCode: err.exitCode, error: err.toJSON() });
    this.clearLive();
    if (this.opts.json) {
      this.opts.stdout.write(`${JSON.stringify({ ok: false, error: err.toJSON() }, null, 2)}\n`);
      return;
    }
    this.opts.stderr.write(`${this.paint('31', 'error')} [${err.code}, ${err.phase}${err.details?.rolledBack === true ? ', rolled back: the install is as it was' : err.changed ? ', changes were made' : ', nothing changed'}]: ${err.message}\n`);
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
