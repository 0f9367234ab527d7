import { DEFAULTS, EXIT, errors } from '@llm-upgrade/core';
import { apply } from '../../apply.js';
import { inScopeAncestor, relaunchDetached, RELAUNCH_ENV, waitForRelaunchParent } from '../../self-relaunch.js';
import { resolveCliScope } from '../scope.js';
import { describeProcess, fromLabel } from '../render.js';
import { isFreshInstall } from './preview.js';
import type { CommandHandler } from './types.js';
import { isGithubFeed } from '../../github/spec.js';
import { githubQuery } from './github-options.js';
import { upgradeEventSink } from './upgrade-events.js';

export const applyCommand: CommandHandler = async ({ parsed, reporter, signal }) => {
  const { common, values, positionals } = parsed;
  const feedUrl = typeof values.feed === 'string' ? values.feed : undefined;
  const checksums = typeof values.checksums === 'string' ? values.checksums : undefined;
  const version = typeof values['package-version'] === 'string' ? values['package-version'] : undefined;
  const archives = checksums !== undefined ? positionals : [];
  const source = checksums !== undefined ? undefined : positionals[0];
  if (checksums !== undefined && (feedUrl || positionals.length === 0)) {
    throw errors.usageError({
      message: feedUrl ? 'apply takes archives with --checksums or --feed URL, not both' : 'apply --checksums needs the archives it covers',
      hint: 'llm-upgrade apply ollama-linux-amd64.tar.zst ollama-linux-amd64-rocm.tar.zst --checksums sha256sum.txt',
      phase: 'usage',
      changed: false,
    });
  }
  if (checksums === undefined && (!feedUrl === !source || positionals.length > 1)) {
    throw errors.usageError({
      message:
        positionals.length > 1
          ? 'apply takes several archives only with --checksums FILE|URL'
          : 'apply takes one package (file or directory) or --feed URL',
      hint: 'llm-upgrade apply ./pkg.tar.gz --install-dir DIR, or llm-upgrade apply A.tar.zst B.tar.zst --checksums sha256sum.txt',
      phase: 'usage',
      changed: false,
    });
  }
  if (version !== undefined && checksums === undefined) {
    throw errors.usageError({
      message: 'apply --version V is for archives without a manifest (with --checksums)',
      hint: 'Packages made by `llm-upgrade pack` carry their version.',
      phase: 'usage',
      changed: false,
    });
  }
  const scope = await resolveCliScope(common);
  const fresh = await isFreshInstall(scope.roots);

  // The app updating itself: never stop our own ancestor; relaunch detached and let it exit.
  if (!common.dryRun) {
    if (process.env[RELAUNCH_ENV]) {
      const waitMs = common.timeoutMs ?? DEFAULTS.timeoutMs;
      const gone = await waitForRelaunchParent(process.env, waitMs);
      if (!gone)
        reporter.line(
          `the process that started this upgrade is still running after ${waitMs} ms; it will be stopped with the install`,
          'warn',
        );
    } else {
      const ancestor = await inScopeAncestor(scope.roots);
      if (ancestor) {
        const pid = relaunchDetached(process.argv.slice(2), ancestor);
        reporter.line(
          `started by ${describeProcess(ancestor)}, which is part of the install: continuing detached as pid ${pid} once it exits`,
        );
        return { exitCode: EXIT.ok, result: { ok: true, relaunched: true, pid, waitingFor: ancestor.pid } };
      }
    }
  }

  const result = await apply({
    ...(source ? { source } : {}),
    ...(feedUrl ? { feedUrl } : {}),
    ...(feedUrl && isGithubFeed(feedUrl) ? { github: githubQuery(values) } : {}),
    ...(archives.length ? { archives, checksums } : {}),
    ...(version !== undefined ? { version } : {}),
    roots: scope.roots,
    profile: scope.profile,
    allowDowngrade: values['allow-downgrade'] === true,
    adopt: values.adopt === true,
    replaceProduct: values['replace-product'] === true,
    allowInsecureRedirect: values['allow-insecure-redirect'] === true,
    dryRun: common.dryRun,
    ...(typeof values['public-key'] === 'string' ? { publicKey: values['public-key'] } : {}),
    ...(typeof values.platform === 'string' ? { platform: values.platform } : {}),
    restart: values['no-restart'] !== true,
    graceMs: common.graceMs,
    timeoutMs: common.timeoutMs,
    onEvent: upgradeEventSink(reporter),
    signal,
  });
  for (const w of result.warnings) reporter.line(w, result.noop ? 'info' : 'warn'); // a same-version no-op is a result
  if (result.dryRun) {
    reporter.line(`dry run: ${fromLabel(result.from, fresh)} → ${result.to} in ${result.root}`);
    if (result.plan) {
      reporter.line(`  add ${result.plan.add.length}, replace ${result.plan.replace.length}, remove ${result.plan.remove.length} file(s)`);
      for (const p of result.plan.remove) reporter.line(`  remove ${p}`);
      for (const p of result.plan.processes) reporter.line(`  would stop ${describeProcess(p)}${p.orphan ? ' [orphan]' : ''}`);
    }
  } else if (!result.noop) {
    reporter.line(
      `upgraded ${result.root}: ${fromLabel(result.from, fresh)} → ${result.to} (${result.files} files, ${result.stopped.length} process(es) stopped, downtime ${result.downtimeMs} ms${result.healthy ? ', healthy' : ''})`,
    );
  }
  return { exitCode: EXIT.ok, result };
};
