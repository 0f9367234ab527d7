import type { CommonOptions, ParsedCommand } from '../args.js';
import type { ReleaseQuery } from '../../github/release.js';

/** --github-api, --pre, GITHUB_TOKEN (from the environment only: a token on the command line lands in shell history and ps). */
export function githubQuery(
  values: ParsedCommand['values'],
  env: NodeJS.ProcessEnv = process.env,
): Omit<ReleaseQuery, 'timeoutMs' | 'allowInsecureRedirect'> {
  const token = env.GITHUB_TOKEN?.trim();
  return {
    ...(typeof values['github-api'] === 'string' ? { apiUrl: values['github-api'] } : {}),
    ...(token ? { token } : {}),
    ...(values.pre === true ? { pre: true } : {}),
  };
}

/** githubQuery plus the transport options of the command line. */
export function githubOptions(values: ParsedCommand['values'], common: CommonOptions, env: NodeJS.ProcessEnv = process.env): ReleaseQuery {
  return {
    ...githubQuery(values, env),
    timeoutMs: common.timeoutMs,
    ...(values['allow-insecure-redirect'] === true ? { allowInsecureRedirect: true } : {}),
  };
}
