import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { LlmUpgradeError } from '@llm-upgrade/core';
import { Reporter } from './reporter.js';

function capture(tty: boolean, columns = 80) {
  const stream = Object.assign(new PassThrough(), { isTTY: tty, columns });
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  return { stream, text: () => text };
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('Reporter', () => {
  it('prints exactly one JSON document on stdout with --json, and no progress', () => {
    const out = capture(false);
    const err = capture(false);
    const r = new Reporter({
      json: true,
      quiet: false,
      logFile: undefined,
      stdout: out.stream,
      stderr: err.stream,
      env: {},
      command: 'stop',
    });
    r.progress('working');
    r.line('a line');
    r.result({ ok: true, stopped: [] }, 0);
    expect(JSON.parse(out.text())).toEqual({ ok: true, stopped: [] });
    expect(err.text()).toBe('');
  });
  it('prints errors as the contract shape under --json, and as message + hint otherwise', () => {
    const e = new LlmUpgradeError({
      code: 'ERR_LOCKED',
      message: 'pid 42 holds the lock /x/.llm-upgrade/lock',
      hint: 'Wait for it.',
      phase: 'lock',
      changed: false,
    });
    const out = capture(false);
    new Reporter({
      json: true,
      quiet: false,
      logFile: undefined,
      stdout: out.stream,
      stderr: capture(false).stream,
      env: {},
      command: 'apply',
    }).error(e);
    expect(JSON.parse(out.text())).toEqual({
      ok: false,
      error: {
        code: 'ERR_LOCKED',
        message: 'pid 42 holds the lock /x/.llm-upgrade/lock',
        hint: 'Wait for it.',
        phase: 'lock',
        changed: false,
      },
    });
    const err = capture(false);
    new Reporter({
      json: false,
      quiet: false,
      logFile: undefined,
      stdout: capture(false).stream,
      stderr: err.stream,
      env: {},
      command: 'apply',
    }).error(e);
    expect(err.text()).toContain('pid 42 holds the lock');
    expect(err.text()).toContain('hint: Wait for it.');
  });
  it('writes every event to --log-file as JSON lines', () => {
    const dir = mkdtempSync(join(tmpdir(), 'reporter-'));
    dirs.push(dir);
    const log = join(dir, 'sub', 'run.log');
    const r = new Reporter({
      json: false,
      quiet: true,
      logFile: log,
      stdout: capture(false).stream,
      stderr: capture(false).stream,
      env: {},
      command: 'stop',
    });
    r.event({ type: 'signal', pid: 7, name: 'llama-server', signal: 'SIGTERM' }, 'SIGTERM → llama-server');
    r.result({ ok: true }, 0);
    const lines = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string });
    expect(lines.map((l) => l.type)).toEqual(['start', 'signal', 'result']);
    expect(lines[1]).toMatchObject({ pid: 7, name: 'llama-server' });
  });
  it('shows a ticking event at most once a second off a TTY, and no colour under NO_COLOR', () => {
    const err = capture(true);
    const r = new Reporter({
      json: false,
      quiet: false,
      logFile: undefined,
      stdout: capture(false).stream,
      stderr: err.stream,
      env: { NO_COLOR: '' },
      command: 'stop',
    });
    r.line('careful', 'warn');
    expect(err.text()).toContain('warning: careful');
    expect(err.text()).not.toContain('\x1b[33m');
    const plain = capture(false);
    const p = new Reporter({
      json: false,
      quiet: false,
      logFile: undefined,
      stdout: capture(false).stream,
      stderr: plain.stream,
      env: {},
      command: 'stop',
    });
    for (let i = 0; i < 5; i++) p.event({ type: 'wait', remaining: 1 }, `waiting ${i}`, true);
    expect(plain.text()).toBe('waiting 0\n');
  });
  it('keeps the whole live line when the terminal reports 0 columns (some ptys do)', () => {
    const err = capture(true, 0);
    const r = new Reporter({
      json: false,
      quiet: false,
      logFile: undefined,
      stdout: capture(false).stream,
      stderr: err.stream,
      env: {},
      command: 'stop',
    });
    r.progress('stopping everything under /opt/ollama');
    expect(err.text()).toContain('stopping everything under /opt/ollama');
  });
  it('puts the report on stdout and warnings on stderr; quiet keeps only warnings', () => {
    const out = capture(false);
    const err = capture(false);
    const r = new Reporter({
      json: false,
      quiet: false,
      logFile: undefined,
      stdout: out.stream,
      stderr: err.stream,
      env: {},
      command: 'status',
    });
    r.progress('scanning');
    r.line('install: /opt/x');
    r.line('orphans found', 'warn');
    r.note('the plan');
    expect(out.text()).toBe('install: /opt/x\n');
    expect(err.text()).toBe('scanning\nwarning: orphans found\nthe plan\n');
    const qOut = capture(false);
    const qErr = capture(false);
    const q = new Reporter({
      json: false,
      quiet: true,
      logFile: undefined,
      stdout: qOut.stream,
      stderr: qErr.stream,
      env: {},
      command: 'stop',
    });
    q.line('ended 3');
    q.line('still held', 'warn');
    expect(qOut.text()).toBe('');
    expect(qErr.text()).toBe('warning: still held\n');
  });
  it('a result with an error: one error line and hint on stderr, or `error` inside the --json document', () => {
    const e = new LlmUpgradeError({
      code: 'ERR_SURVIVORS',
      message: '1 process(es) still running: x (pid 9)',
      hint: 'End it.',
      phase: 'stop',
      changed: true,
    });
    const err = capture(false);
    new Reporter({
      json: false,
      quiet: false,
      logFile: undefined,
      stdout: capture(false).stream,
      stderr: err.stream,
      env: {},
      command: 'stop',
    }).result({ ok: false, error: e }, 3);
    expect(err.text()).toBe('error [ERR_SURVIVORS, stop, changes were made]: 1 process(es) still running: x (pid 9)\n  hint: End it.\n');
    const out = capture(false);
    new Reporter({
      json: true,
      quiet: false,
      logFile: undefined,
      stdout: out.stream,
      stderr: capture(false).stream,
      env: {},
      command: 'stop',
    }).result({ ok: false, survivors: [], error: e }, 3);
    expect(JSON.parse(out.text())).toEqual({ ok: false, survivors: [], error: e.toJSON() });
  });
  it('confirm: y or yes is yes; anything else, or end of input, is no', async () => {
    const ask = async (answer: string | null) => {
      const stdin = new PassThrough();
      const err = capture(true);
      const r = new Reporter({
        json: false,
        quiet: false,
        logFile: undefined,
        stdin,
        stdout: capture(false).stream,
        stderr: err.stream,
        env: {},
        command: 'stop',
        yes: false,
      });
      const p = r.confirm('Proceed?');
      if (answer === null) stdin.end();
      else stdin.write(`${answer}\n`);
      const yes = await p;
      expect(err.text()).toContain('Proceed? [y/N] ');
      return yes;
    };
    expect(await ask('y')).toBe(true);
    expect(await ask(' YES ')).toBe(true);
    expect(await ask('')).toBe(false);
    expect(await ask('n')).toBe(false);
    expect(await ask('yep')).toBe(false);
    expect(await ask(null)).toBe(false);
  });
  it('verbose shows every event, even those without a line of their own, and does not rate-limit off a TTY', () => {
    const err = capture(false);
    const r = new Reporter({
      json: false,
      quiet: false,
      verbose: true,
      logFile: undefined,
      stdout: capture(false).stream,
      stderr: err.stream,
      env: {},
      command: 'apply',
    });
    r.event({ type: 'journal', seq: 3, state: 'swapping', done: 2 });
    for (let i = 0; i < 3; i++) r.event({ type: 'wait', remaining: 1 }, `waiting ${i}`, true);
    expect(err.text()).toBe('journal seq=3 state=swapping done=2\nwaiting 0\nwaiting 1\nwaiting 2\n');
  });
  it('asks only without --yes (implied off a terminal) and without --dry-run', () => {
    const make = (o: { yes?: boolean; dryRun?: boolean }) =>
      new Reporter({
        json: false,
        quiet: false,
        logFile: undefined,
        stdout: capture(false).stream,
        stderr: capture(false).stream,
        env: {},
        command: 'stop',
        ...o,
      });
    expect(make({ yes: false }).interactive).toBe(true);
    expect(make({ yes: true }).interactive).toBe(false);
    expect(make({ yes: false, dryRun: true }).interactive).toBe(false);
    expect(make({}).interactive).toBe(false);
  });
});
