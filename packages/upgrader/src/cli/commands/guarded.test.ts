import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { EXIT, LlmUpgradeError, type StopResult } from '@llm-upgrade/core';
import { parseCommandLine } from '../args.js';
import { Reporter } from '../reporter.js';
import { guarded } from './guarded.js';
import type { CommandHandler } from './types.js';

const sink = () => Object.assign(new PassThrough(), { isTTY: false });

function context(argv: string[], yes: boolean, stdin?: PassThrough) {
  const outcome = parseCommandLine(argv, !yes);
  if (outcome.kind !== 'run') throw new Error('expected a command');
  const stderr = sink();
  let text = '';
  stderr.on('data', (d: Buffer) => (text += d.toString()));
  const reporter = new Reporter({
    ...outcome.parsed.common,
    ...(stdin ? { stdin } : {}),
    stdout: sink(),
    stderr,
    env: {},
    command: outcome.parsed.command,
  });
  return { ctx: { parsed: outcome.parsed, reporter, signal: new AbortController().signal }, stderr: () => text };
}

const proc = {
  pid: 42,
  ppid: 1,
  name: 'llama-server',
  exe: '/opt/x/llama-server',
  startTime: 1,
  role: 'engine',
  inScope: true,
  orphan: false,
};
const stopResult = (o: Partial<StopResult>): StopResult =>
  ({
    ok: true,
    stopped: [],
    survivors: [],
    plan: [],
    holders: [],
    warnings: [],
    unknown: [],
    complete: true,
    services: [],
    dryRun: false,
    durationMs: 1,
    ...o,
  }) as unknown as StopResult;

describe('guarded commands', () => {
  it('stop exit 3 carries ERR_SURVIVORS in its result', async () => {
    const handler: CommandHandler = async () => ({
      exitCode: EXIT.held,
      result: stopResult({ ok: false, survivors: [{ ...proc, why: 'ignored SIGKILL' }] as StopResult['survivors'] }),
    });
    const { ctx } = context(['stop'], true);
    const out = await guarded('stop', handler)(ctx);
    expect(out.exitCode).toBe(3);
    const error = (out.result as { error: unknown }).error;
    expect(error).toBeInstanceOf(LlmUpgradeError);
    expect((error as LlmUpgradeError).toJSON()).toMatchObject({
      code: 'ERR_SURVIVORS',
      message: '1 process(es) still running: llama-server (pid 42)',
    });
  });

  it('on a terminal: runs the dry run first, shows it, and a no ends with ERR_ABORTED before the real run', async () => {
    const calls: boolean[] = [];
    const handler: CommandHandler = async ({ parsed }) => {
      calls.push(parsed.common.dryRun);
      return { exitCode: 0, result: stopResult({ dryRun: parsed.common.dryRun, plan: [proc] as StopResult['plan'] }) };
    };
    const stdin = new PassThrough();
    const { ctx, stderr } = context(['stop'], false, stdin);
    const run = guarded('stop', handler)(ctx);
    await new Promise((r) => setTimeout(r, 50));
    stdin.write('n\n');
    await expect(run).rejects.toMatchObject({ code: 'ERR_ABORTED', exitCode: 1, changed: false });
    expect(calls).toEqual([true]);
    expect(stderr()).toContain('stop will end 1 process(es):\n  llama-server (pid 42, /opt/x/llama-server)\nProceed? [y/N] ');
  });

  it('asks nothing when there is nothing to end, and nothing with --yes', async () => {
    const calls: boolean[] = [];
    const handler: CommandHandler = async ({ parsed }) => {
      calls.push(parsed.common.dryRun);
      return { exitCode: 0, result: stopResult({}) };
    };
    await guarded('sweep', handler)(context(['sweep'], false).ctx);
    expect(calls).toEqual([true, false]);
    calls.length = 0;
    await guarded('sweep', handler)(context(['sweep'], true).ctx);
    expect(calls).toEqual([false]);
  });
});
