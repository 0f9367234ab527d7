import { EXIT, status } from '@llm-upgrade/core';
import { versionOfInstall } from '../../transaction/checks.js';
import { readInstalledState } from '../../installed.js';
import { readFile } from 'node:fs/promises';
import { parseManifest } from '../../manifest.js';
import { statePaths } from '../../paths.js';
import { ownedNames } from '../../transaction/transaction.js';
import { transactionStatus, userEntries } from '../../transaction/status.js';
import { refusePositionals, resolveCliScope } from '../scope.js';
import { coreEventSink, renderForest, renderHolder } from '../render.js';
import type { CommandHandler } from './types.js';
import { installLayout } from '../../layout.js';
import { serverAddress, servicePresence } from '../../server-info.js';

export const statusCommand: CommandHandler = async ({ parsed, reporter }) => {
  refusePositionals(parsed);
  const scope = await resolveCliScope(parsed.common, { requireExisting: true });
  const [report, installed] = await Promise.all([status({ ...scope, onEvent: coreEventSink(reporter) }), readInstalledState(scope.roots)]);
  const inScope = report.processes.filter((p) => p.inScope);
  const layout = installLayout(scope.roots);
  const root = layout.base;
  // Not installed by us: ask the install itself (the profile's version command).
  const detected = installed ? null : await versionOfInstall(root, scope.profile.versionCommand);
  reporter.line(`install: ${scope.roots.join(', ')} (${scope.profile.name})`);
  reporter.line(
    `version: ${installed ? installed.version : detected ? `${detected} (reported by ${scope.profile.versionCommand!.join(' ')}; not installed by llm-upgrade)` : 'unknown (not installed by llm-upgrade)'}`,
  );
  const services = servicePresence(scope.profile);
  for (const s of services) reporter.line(`service: ${s.name} (${s.present ? s.unitFile : 'not installed'})`);
  const server = await serverAddress(inScope, scope.profile).catch(() => null);
  if (server) {
    const why =
      server.source === 'socket'
        ? `listening now, pid ${server.pid}`
        : server.source === 'OLLAMA_HOST'
          ? `OLLAMA_HOST=${server.ollamaHost} of pid ${server.pid}`
          : server.source === 'profile'
            ? "the profile's address"
            : "not running; the profile's default address";
    reporter.line(
      `server: ${server.url} (${why}${server.ollamaHost && server.source === 'socket' ? `, OLLAMA_HOST=${server.ollamaHost}` : ''})`,
    );
  }
  reporter.line(inScope.length ? `processes (${inScope.length}, ${report.orphans.length} orphaned):` : 'processes: none running');
  for (const l of renderForest(report.processes)) reporter.line(`  ${l}`);
  const transaction = await transactionStatus(root);
  if (transaction) {
    const what = `${transaction.kind} ${transaction.from ?? '?'} → ${transaction.to ?? '?'} (journal state ${transaction.state}, ${transaction.updatedAt})`;
    if (transaction.ownerAlive) reporter.line(`transaction in progress: ${what}, run by pid ${transaction.ownerPid}`);
    else {
      reporter.line(`interrupted transaction: ${what}; the upgrader (pid ${transaction.ownerPid}) is gone`, 'warn');
      reporter.line(
        `run "llm-upgrade recover" to finish it: it will ${transaction.recoverWill}${transaction.ran.length ? ` and start again what ran (${transaction.ran.map((p) => `pid ${p.pid}: ${p.argv.join(' ')}`).join('; ')})` : ''}`,
        'warn',
      );
    }
  }
  let userFiles: string[] = [];
  if (installed) {
    const manifest = await readFile(statePaths(root).installed)
      .then((b) => parseManifest(b, statePaths(root).installed))
      .catch(() => null);
    const owned = ownedNames(manifest);
    if (owned && !layout.units) userFiles = await userEntries(root, owned);
    if (userFiles.length) reporter.line(`not part of the package (kept across upgrades and rollbacks): ${userFiles.join(', ')}`);
  }
  const foreign = report.holders.holders.filter((h) => !h.inScope);
  for (const h of foreign) reporter.line(renderHolder(h), 'warn');
  for (const g of report.gpu) reporter.line(`  GPU ${g.gpu}: pid ${g.pid} holds ${g.usedMiB} MiB`);
  if (report.orphans.length)
    reporter.line(`run "llm-upgrade sweep" to end the ${report.orphans.length} orphan(s) and free their memory`, 'warn');
  return {
    exitCode: EXIT.ok,
    result: {
      ok: true,
      roots: scope.roots,
      base: layout.base,
      profile: scope.profile.name,
      installed,
      services,
      server,
      transaction,
      userFiles,
      version: installed?.version ?? detected,
      processes: inScope,
      orphans: report.orphans,
      holders: report.holders,
      gpu: report.gpu,
    },
  };
};
