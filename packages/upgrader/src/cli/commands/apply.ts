import { EXIT, errors } from '@llm-upgrade/core';
import { discardApplyPlan, executeApply, planApply } from '../../apply/index.js';
import { confirmOrAbort } from '../confirm.js';
import { resolveCliScope } from '../scope.js';
import { describeProcess, fromLabel } from '../render.js';
import { applyPreviewLines, isFreshInstall, planDetailLines } from './preview.js';
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
  const plan = await planApply({
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
    // The app updating itself: the library relaunches this command detached and lets the app exit.
    relaunchArgs: process.argv.slice(2),
    onEvent: upgradeEventSink(reporter),
    signal,
  });
  // On a terminal: the plan that will run, and a question (default no); the answer no gives it up.
  const preview = plan.dryRun || plan.relaunch ? null : applyPreviewLines(plan, fresh);
  if (preview && reporter.interactive) {
    await confirmOrAbort(reporter, preview).catch(async (e: unknown) => {
      await discardApplyPlan(plan);
      throw e;
    });
  }
  const result = await executeApply(plan);
  if (result.relaunched) {
    reporter.line(
      `started by ${describeProcess({ pid: plan.relaunch!.pid, name: plan.relaunch!.name, exe: plan.relaunch!.exe })}, which is part of the install: continuing detached as pid ${result.pid} once it exits`,
    );
    return { exitCode: EXIT.ok, result: { ok: true, relaunched: true, pid: result.pid, waitingFor: result.waitingFor } };
  }
  for (const w of result.warnings) reporter.line(w, result.noop ? 'info' : 'warn'); // a same-version no-op is a result
  if (result.dryRun) {
    reporter.line(`dry run: ${fromLabel(result.from, fresh)} → ${result.to} in ${result.root}`);
    for (const line of planDetailLines(plan)) reporter.line(line);
  } else if (!result.noop) {
    reporter.line(
      `upgraded ${result.root}: ${fromLabel(result.from, fresh)} → ${result.to} (${result.files} files, ${result.stopped.length} process(es) stopped, downtime ${result.downtimeMs} ms${result.healthy ? ', healthy' : ''})`,
    );
  }
  return { exitCode: EXIT.ok, result };
};
