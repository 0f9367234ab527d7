import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { planMoves, runBackward, stepSize } from './swap.js';
import { JournalWriter, type Journal } from './journal.js';
import { runForward } from './swap.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function setup() {
  const base = mkdtempSync(join(tmpdir(), 'llm-upgrade-swap-'));
  dirs.push(base);
  const root = join(base, 'root');
  const stage = join(root, '.llm-upgrade', 'staging');
  const backup = join(root, '.llm-upgrade', 'swap-backup');
  const put = (p: string, c: string) => {
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, c);
  };
  put(join(root, 'bin', 'tool'), 'old tool');
  put(join(root, 'lib', 'gone.so'), 'old only');
  put(join(root, 'share', 'x', 'y'), 'dir becomes file');
  put(join(stage, 'bin', 'tool'), 'new tool');
  put(join(stage, 'lib', 'new', 'added.so'), 'new only');
  put(join(stage, 'share', 'x'), 'now a file');
  mkdirSync(backup, { recursive: true });
  return { base, root, stage, backup };
}

function journalFor(root: string, stage: string, backup: string, ops: Journal['ops']): Journal {
  return {
    format: 1,
    txid: 't',
    kind: 'apply',
    state: 'swapping',
    seq: 0,
    root,
    stageDir: stage,
    backupDir: backup,
    from: null,
    to: null,
    fromManifest: null,
    toManifest: null,
    restart: { wasRunning: false, services: [] },
    ops,
    done: 0,
    owner: { pid: process.pid, startKey: null },
    updatedAt: '',
  };
}

describe('swap moves', () => {
  it('plans one backup per old top-level entry, then one install per new one', async () => {
    const { root, stage } = setup();
    const ops = await planMoves(root, stage);
    expect(ops.map((o) => `${o.op} ${o.path}`)).toEqual([
      'backup bin',
      'backup lib',
      'backup share',
      'install bin',
      'install lib',
      'install share',
    ]);
  });

  it('leaves unlisted entries in place, carries user files inside package directories, and undoes it all', async () => {
    const { root, stage, backup } = setup();
    writeFileSync(join(root, 'config.yaml'), 'mine');
    writeFileSync(join(root, 'lib', 'user.so'), 'user lib');
    const listed = new Set(['bin/tool', 'lib/gone.so', 'share/x/y']);
    const ops = await planMoves(root, stage, new Set(['bin', 'lib', 'share']), listed);
    expect(ops.map((o) => `${o.op} ${o.path}`)).toEqual([
      'backup bin',
      'backup lib',
      'backup share',
      'install bin',
      'install lib',
      'install share',
      'carry lib/user.so',
    ]);
    const writer = new JournalWriter(join(root, '.llm-upgrade', 'journal.json'), journalFor(root, stage, backup, ops));
    await runForward(writer);
    expect(readFileSync(join(root, 'lib', 'user.so'), 'utf8')).toBe('user lib');
    expect(readFileSync(join(root, 'lib', 'new', 'added.so'), 'utf8')).toBe('new only');
    expect(readFileSync(join(root, 'config.yaml'), 'utf8')).toBe('mine');
    expect(existsSync(join(backup, 'lib', 'user.so'))).toBe(false);
    await runBackward({ root, stageDir: stage, backupDir: backup }, ops);
    await runBackward({ root, stageDir: stage, backupDir: backup }, ops);
    expect(readFileSync(join(root, 'lib', 'user.so'), 'utf8')).toBe('user lib');
    expect(readFileSync(join(root, 'lib', 'gone.so'), 'utf8')).toBe('old only');
    expect(readFileSync(join(root, 'bin', 'tool'), 'utf8')).toBe('old tool');
    expect(readFileSync(join(stage, 'bin', 'tool'), 'utf8')).toBe('new tool');
  });

  it('never moves an old entry into staging when its backup did not happen (staging lost)', async () => {
    const { root, stage, backup } = setup();
    const ops = await planMoves(root, stage);
    rmSync(stage, { recursive: true, force: true });
    mkdirSync(stage);
    await runBackward({ root, stageDir: stage, backupDir: backup }, ops);
    expect(readFileSync(join(root, 'lib', 'gone.so'), 'utf8')).toBe('old only');
    expect(readFileSync(join(root, 'bin', 'tool'), 'utf8')).toBe('old tool');
  });

  it('rmdir/mkdir moves (journal format 1) replay and undo', async () => {
    const { root, stage, backup } = setup();
    const ops: Journal['ops'] = [
      { op: 'backup', path: 'share/x/y' },
      { op: 'rmdir', path: 'share/x' },
      { op: 'mkdir', path: 'lib/new' },
      { op: 'install', path: 'lib/new/added.so' },
      { op: 'install', path: 'share/x' },
    ];
    const writer = new JournalWriter(join(root, '.llm-upgrade', 'journal.json'), journalFor(root, stage, backup, ops));
    await runForward(writer);
    expect(readFileSync(join(root, 'share', 'x'), 'utf8')).toBe('now a file');
    expect(readFileSync(join(root, 'lib', 'new', 'added.so'), 'utf8')).toBe('new only');
    await runBackward({ root, stageDir: stage, backupDir: backup }, ops);
    expect(readFileSync(join(root, 'share', 'x', 'y'), 'utf8')).toBe('dir becomes file');
    expect(existsSync(join(root, 'lib', 'new'))).toBe(false);
  });

  it('forward then backward restores the old tree; both are idempotent', async () => {
    const { root, stage, backup } = setup();
    const ops = await planMoves(root, stage);
    const writer = new JournalWriter(join(root, '.llm-upgrade', 'journal.json'), journalFor(root, stage, backup, ops));
    await runForward(writer);
    expect(readFileSync(join(root, 'share', 'x'), 'utf8')).toBe('now a file');
    expect(readFileSync(join(root, 'bin', 'tool'), 'utf8')).toBe('new tool');
    expect(existsSync(join(root, 'lib', 'gone.so'))).toBe(false);
    // Replaying the forward moves changes nothing.
    writer.journal.done = 0;
    await runForward(writer);
    expect(readFileSync(join(root, 'lib', 'new', 'added.so'), 'utf8')).toBe('new only');
    const d = { root, stageDir: stage, backupDir: backup };
    expect(await runBackward(d, ops)).toBeGreaterThan(0);
    expect(await runBackward(d, ops)).toBe(0);
    expect(readFileSync(join(root, 'bin', 'tool'), 'utf8')).toBe('old tool');
    expect(readFileSync(join(root, 'share', 'x', 'y'), 'utf8')).toBe('dir becomes file');
    expect(readFileSync(join(root, 'lib', 'gone.so'), 'utf8')).toBe('old only');
    expect(existsSync(join(root, 'lib', 'new'))).toBe(false);
    expect(readFileSync(join(stage, 'share', 'x'), 'utf8')).toBe('now a file');
  });

  it('backward after a partial forward undoes exactly what was done', async () => {
    const { root, stage, backup } = setup();
    const ops = await planMoves(root, stage);
    const writer = new JournalWriter(join(root, '.llm-upgrade', 'journal.json'), journalFor(root, stage, backup, ops.slice(0, 4)));
    await runForward(writer);
    await runBackward({ root, stageDir: stage, backupDir: backup }, ops);
    expect(readFileSync(join(root, 'share', 'x', 'y'), 'utf8')).toBe('dir becomes file');
    expect(readFileSync(join(root, 'bin', 'tool'), 'utf8')).toBe('old tool');
  });

  it('journals at most ~16 times however many moves', () => {
    expect(stepSize(5)).toBe(1);
    expect(stepSize(16)).toBe(1);
    expect(stepSize(2000)).toBe(125);
  });
});
