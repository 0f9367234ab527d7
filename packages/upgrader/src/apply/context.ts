import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { DEFAULTS, errors, platformKey } from '@llm-upgrade/core';
import { installLayout } from '../layout.js';
import type { Manifest } from '../manifest.js';
import type { FileIdentity } from '../transaction/checks.js';
import type { LockHandle } from '../transaction/lock.js';
import type { RecoverResult } from '../transaction/recover.js';
import type { StagedTree } from '../transaction/swap.js';
import type { ApplyOptions, ApplyPlan, PlanStep } from './types.js';

/** What every planning step shares: the options, the install's layout, the steps done so far, the lock. */
export interface Context {
  opts: ApplyOptions;
  roots: string[];
  root: string;
  units: string[] | null;
  platform: string;
  graceMs: number;
  timeoutMs: number;
  healthTimeoutMs: number;
  dryRun: boolean;
  steps: PlanStep[];
  warnings: string[];
  recovered: RecoverResult['action'];
  changed: boolean;
  lock: LockHandle | null;
}

/** The new version, resolved: its manifest, where it is staged (if it is), the tree the moves install. */
export interface Resolved {
  sourceKind: ApplyPlan['sourceKind'];
  source: string;
  manifest: Manifest;
  from: string | null;
  signed: boolean;
  bytes: number;
  stageDir: string | null;
  tree: StagedTree;
  identities: Map<string, FileIdentity>;
  /** A directory of the dry run's own, removed once the moves are planned. */
  scratch: string | null;
}

export type Outcome = Resolved | { noop: true; plan: ApplyPlan } | { unknown: true; plan: ApplyPlan };

export function checkOptions(opts: ApplyOptions): void {
  if (!opts.roots.length)
    throw errors.usageError({ message: 'apply needs an install root', hint: 'Give --install-dir PATH.', phase: 'usage', changed: false });
  const archives = opts.archives ?? [];
  if ([opts.source, opts.feedUrl, archives.length > 0 ? archives : undefined].filter((x) => x !== undefined).length !== 1)
    throw errors.usageError({
      message: 'apply needs exactly one of a package path, --feed URL or archives with --checksums',
      hint: 'llm-upgrade apply ./pkg.tar.gz --install-dir DIR, or llm-upgrade apply A.tar.zst B.tar.zst --checksums sha256sum.txt',
      phase: 'usage',
      changed: false,
    });
}

export async function contextFor(opts: ApplyOptions): Promise<Context> {
  const roots = opts.roots.map((r) => resolve(r));
  const { base: root, units } = installLayout(roots);
  const rootStat = await stat(root).catch(() => null);
  if (rootStat && !rootStat.isDirectory())
    throw errors.usageError({
      message: `${root} is a file; apply installs into a directory`,
      hint: 'Give the install directory as the first --install-dir.',
      phase: 'usage',
      changed: false,
    });
  const timeoutMs = opts.timeoutMs ?? DEFAULTS.timeoutMs;
  return {
    opts,
    roots,
    root,
    units,
    platform: opts.platform ?? platformKey(),
    graceMs: opts.graceMs ?? DEFAULTS.stopGraceMs,
    timeoutMs,
    healthTimeoutMs: opts.healthTimeoutMs ?? timeoutMs,
    dryRun: opts.dryRun === true,
    steps: [],
    warnings: [],
    recovered: 'nothing',
    changed: false,
    lock: null,
  };
}

export function emptyPlan(c: Context, fields: Partial<ApplyPlan> & Pick<ApplyPlan, 'sourceKind' | 'source' | 'from' | 'to'>): ApplyPlan {
  return {
    dryRun: c.dryRun,
    root: c.root,
    roots: c.roots,
    units: c.units,
    product: null,
    noop: false,
    downgrade: false,
    signed: false,
    files: 0,
    bytes: 0,
    steps: { done: [...c.steps], remaining: [] },
    moves: null,
    add: null,
    replace: null,
    remove: null,
    carry: null,
    processes: [],
    services: [],
    restart: { enabled: c.opts.restart !== false, wasRunning: false, command: null, healthUrl: null },
    space: { stagingBytes: 0, transactionBytes: 0, inodes: 0 },
    pointOfNoReturn: { step: 'swap', move: null },
    relaunch: null,
    recovered: c.recovered,
    warnings: c.warnings,
    ...fields,
  };
}

export function noopPlan(c: Context, r: Pick<ApplyPlan, 'sourceKind' | 'source' | 'from' | 'to'>): ApplyPlan {
  c.warnings.push(`${r.to} is already installed; nothing to do`);
  return emptyPlan(c, { ...r, noop: true });
}
