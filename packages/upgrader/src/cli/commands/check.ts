import { EXIT, errors } from '@llm-upgrade/core';
import { checkFeed } from '../../feed.js';
import type { CommandHandler } from './types.js';

import { resolve } from 'node:path';

export const checkCommand: CommandHandler = async ({ parsed, reporter }) => {
  const { common, values } = parsed;
  if (typeof values.feed !== 'string') throw errors.usageError({ message: 'check needs --feed URL', hint: 'llm-upgrade check --feed https://example.com/feed.json --install-dir DIR', phase: 'usage', changed: false });
  // Installed state is read only from explicit roots: check must work where nothing is installed.
  const result = await checkFeed({ feedUrl: values.feed, roots: common.installDirs.map((d) => resolve(d)), timeoutMs: common.timeoutMs, allowInsecureRedirect: values['allow-insecure-redirect'] === true, ...(typeof values.platform === 'string' ? { platform: values.platform } : {}) });
  if (!result.latest) reporter.line(`${result.feed}: no release for ${result.platform}`, 'warn');
  else reporter.line(`${result.feed} ${result.latest.version} (${result.platform}); installed: ${result.installed ?? 'unknown'}${result.updateAvailable ? ' — an update is available' : ' — up to date'}`);
  return { exitCode: values['exit-code'] === true && result.updateAvailable ? EXIT.updateAvailable : EXIT.ok, result };
};
