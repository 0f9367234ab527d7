import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stop, type Profile, type ScopedProcess } from '@llm-upgrade/core';
import type { ApplyPlan } from '../../apply/index.js';
import { readInstalledState, STATE_DIR } from '../../installed.js';
import { statePaths } from '../../paths.js';
import { describeProcess, fromLabel, listFew } from '../render.js';
import { installLayout } from '../../layout.js';

/** No install yet: the root is absent or holds nothing but our state directory. */
export async function isFreshInstall(roots: readonly string[]): Promise<boolean> {
  const { base, units } = installLayout(roots);
  if (units) return units.every((u) => !existsSync(join(base, ...u.split('/'))));
  const names = await readdir(base).catch(() => [] as string[]);
  return names.every((n) => n === STATE_DIR);
}

function stopsLine(processes: Pick<ScopedProcess, 'pid' | 'name' | 'exe'>[]): string {
  return processes.length
    ? `  stops ${processes.length} process(es): ${listFew(processes.map(describeProcess))}, and starts the server again`
    : '  stops nothing (no process of the install is running)';
}

/** The plan's moves, file counts and processes, as the dry run prints them and the question shows them. */
export function planDetailLines(plan: ApplyPlan): string[] {
  if (!plan.moves || !plan.add || !plan.replace || !plan.remove) return [];
  const lines = [`  add ${plan.add.length}, replace ${plan.replace.length}, remove ${plan.remove.length} file(s)`];
  for (const p of plan.remove) lines.push(`  remove ${p}`);
  for (const p of plan.carry ?? []) lines.push(`  keep ${p} (not the package's: carried over)`);
  lines.push(`  swap (${plan.moves.length} journaled move(s), the first is the point of no return):`);
  for (const m of plan.moves) lines.push(`    ${m.op} ${m.path}`);
  for (const s of plan.services) lines.push(`  would stop ${s.manager} service ${s.name}`);
  for (const p of plan.processes) lines.push(`  would stop ${describeProcess(p)}${p.orphan ? ' [orphan]' : ''}`);
  return lines;
}

/** What apply will do, from its plan; null when there is nothing to ask about (same version). */
export function applyPreviewLines(plan: ApplyPlan, fresh: boolean): string[] | null {
  if (plan.noop) return null;
  const lines = [`apply will upgrade ${plan.root}: ${fromLabel(plan.from, fresh)} → ${plan.to}`];
  if (plan.moves && plan.add && plan.replace && plan.remove) {
    lines.push(
      `  adds ${plan.add.length}, replaces ${plan.replace.length}, removes ${plan.remove.length} file(s) in ${plan.moves.length} move(s)`,
    );
    lines.push(stopsLine(plan.processes));
  } else lines.push(`  downloads ${plan.source} (${(plan.bytes / 1024 / 1024).toFixed(1)} MiB) and verifies it before changing anything`);
  return lines;
}

/** What rollback will do: the versions from the state directory, the processes from a stop dry run. */
export async function rollbackPreviewLines(roots: string[], profile: Profile): Promise<string[]> {
  const root = installLayout(roots).base;
  const installed = await readInstalledState([root]);
  const meta = await readFile(statePaths(root).backupMeta, 'utf8').then(
    (t) => JSON.parse(t) as { version?: unknown },
    () => null,
  );
  const back =
    typeof meta?.version === 'string' ? meta.version : meta ? 'the kept backup' : 'the kept backup (none found: rollback will refuse)';
  const plan = await stop({ roots, profile, dryRun: true });
  return [`rollback will restore ${root}: ${installed?.version ?? 'unknown version'} → ${back}`, stopsLine(plan.plan)];
}
