import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stop, type Profile, type ScopedProcess } from '@llm-upgrade/core';
import type { ApplyResult } from '../../apply.js';
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

/** What apply will do, from its dry run; null when there is nothing to ask about (same version). */
export function applyPreviewLines(preview: ApplyResult, fresh: boolean): string[] | null {
  if (preview.noop) return null;
  const lines = [`apply will upgrade ${preview.root}: ${fromLabel(preview.from, fresh)} → ${preview.to}`];
  if (preview.plan) {
    lines.push(`  adds ${preview.plan.add.length}, replaces ${preview.plan.replace.length}, removes ${preview.plan.remove.length} file(s)`);
    lines.push(stopsLine(preview.plan.processes));
  } else
    lines.push(`  downloads ${preview.source} (${(preview.bytes / 1024 / 1024).toFixed(1)} MiB) and verifies it before changing anything`);
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
