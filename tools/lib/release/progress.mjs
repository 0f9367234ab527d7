// Human progress on stderr: one line per step with its duration, a spinner on a TTY.
const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export class Progress {
  constructor({ stream = process.stderr, total = 0 } = {}) {
    this.stream = stream;
    this.total = total;
    this.index = 0;
    this.timings = [];
    this.warnings = [];
    this.tty = Boolean(stream.isTTY) && !process.env.CI;
  }

  /** Runs fn as one numbered step; fn may return { skipped: true, note } to say it reused its outputs. */
  async step(title, fn) {
    const n = ++this.index;
    const label = `[${n}/${this.total || '?'}] ${title}`;
    const started = Date.now();
    let timer;
    if (this.tty) {
      let f = 0;
      timer = setInterval(
        () => this.stream.write(`\r${FRAMES[f++ % FRAMES.length]} ${label} ${((Date.now() - started) / 1000).toFixed(0)}s`),
        120,
      );
    } else this.stream.write(`… ${label}\n`);
    try {
      const result = await fn();
      const ms = Date.now() - started;
      const skipped = Boolean(result?.skipped);
      this.timings.push({ step: title, ms, skipped });
      this.clear(timer);
      const note = result?.note ? ` — ${result.note}` : '';
      this.stream.write(`${skipped ? '↺' : '✓'} ${label} (${skipped ? 'unchanged, ' : ''}${(ms / 1000).toFixed(1)} s)${note}\n`);
      return result;
    } catch (e) {
      this.clear(timer);
      this.stream.write(`✗ ${label} failed after ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
      throw e;
    }
  }

  warn(text) {
    this.warnings.push(text);
    this.stream.write(`WARNING: ${text}\n`);
  }

  info(text) {
    this.stream.write(`  ${text}\n`);
  }

  clear(timer) {
    if (timer) {
      clearInterval(timer);
      this.stream.write('\r\x1b[K');
    }
  }
}
