import { EXIT, errors, platformKey, resolveProfile } from '@llm-upgrade/core';
import { checkFeed } from '../../feed.js';
import { checkGithubFeed } from '../../github/check.js';
import { isGithubFeed } from '../../github/spec.js';
import { resolveCliScope } from '../scope.js';
import { githubOptions } from './github-options.js';
import type { CommandHandler } from './types.js';

import { resolve } from 'node:path';

export const checkCommand: CommandHandler = async ({ parsed, reporter }) => {
  const { common, values } = parsed;
  if (typeof values.feed !== 'string')
    throw errors.usageError({
      message: 'check needs --feed URL',
      hint: 'llm-upgrade check --feed https://example.com/feed.json --install-dir DIR, or --feed github:OWNER/REPO',
      phase: 'usage',
      changed: false,
    });
  const exitFor = (updateAvailable: boolean) => (values['exit-code'] === true && updateAvailable ? EXIT.updateAvailable : EXIT.ok);
  if (isGithubFeed(values.feed)) {
    // The profile names the assets; the install (found as for every command) names the add-ons.
    const scope = await resolveCliScope(common, { requireExisting: true }).catch((e: unknown) => {
      if (common.installDirs.length > 0) throw e;
      return null; // nothing installed where the profile looks: still show what the release offers
    });
    const profile = scope?.profile ?? resolveProfile(common.profile ?? 'ollama');
    const result = await checkGithubFeed({
      feed: values.feed,
      roots: scope?.roots ?? [],
      profile,
      platform: typeof values.platform === 'string' ? values.platform : platformKey(),
      ...githubOptions(values, common),
    });
    const names = result.latest?.assets.map((a) => a.name).join(' + ') ?? '';
    reporter.line(
      `${result.feed} ${result.latest?.tag ?? '?'} (${result.platform}: ${names}); installed: ${result.installed ?? 'unknown'}${result.updateAvailable ? ' — an update is available' : ' — up to date'}`,
    );
    return { exitCode: exitFor(result.updateAvailable), result };
  }
  // Installed state is read only from explicit roots: check must work where nothing is installed.
  const result = await checkFeed({
    feedUrl: values.feed,
    roots: common.installDirs.map((d) => resolve(d)),
    timeoutMs: common.timeoutMs,
    allowInsecureRedirect: values['allow-insecure-redirect'] === true,
    ...(typeof values.platform === 'string' ? { platform: values.platform } : {}),
  });
  if (!result.latest) reporter.line(`${result.feed}: no release for ${result.platform}`, 'warn');
  else
    reporter.line(
      `${result.feed} ${result.latest.version} (${result.platform}); installed: ${result.installed ?? 'unknown'}${result.updateAvailable ? ' — an update is available' : ' — up to date'}`,
    );
  return { exitCode: exitFor(result.updateAvailable), result };
};
