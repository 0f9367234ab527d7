import { LlmUpgradeError, errors } from '@llm-upgrade/core';
import { fetchError, get, type FetchOptions } from '../feed.js';

export const DEFAULT_GITHUB_API = 'https://api.github.com';

export interface GithubApiOptions extends Omit<FetchOptions, 'headers'> {
  /** API base URL (GitHub Enterprise: `https://HOST/api/v3`); default https://api.github.com. */
  apiUrl?: string;
  /** Sent as `Authorization: Bearer` to the API's origin only; never logged. */
  token?: string;
}

/** Request headers for the API (and for downloads from the same origin). */
export function apiHeaders(opts: GithubApiOptions): Record<string, string> {
  return {
    accept: 'application/vnd.github+json',
    'x-github-api-version': '2022-11-28',
    ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
  };
}

export function apiBase(opts: GithubApiOptions): string {
  return (opts.apiUrl ?? DEFAULT_GITHUB_API).replace(/\/+$/, '');
}

/** The headers to download `url` with: the token only where the API itself lives. */
export function downloadHeaders(url: string, opts: GithubApiOptions): Record<string, string> {
  const sameOrigin = URL.canParse(url) && new URL(url).origin === new URL(apiBase(opts)).origin;
  return sameOrigin && opts.token ? { authorization: `Bearer ${opts.token}` } : {};
}

function rateLimited(
  url: string,
  status: number,
  headers: Record<string, string | string[] | undefined>,
  hadToken: boolean,
): LlmUpgradeError {
  const reset = Number(headers['x-ratelimit-reset']);
  const retryAfter = Number(headers['retry-after']);
  const when =
    Number.isFinite(retryAfter) && retryAfter > 0
      ? `retry after ${retryAfter} s`
      : Number.isFinite(reset) && reset > 0
        ? `the limit resets at ${new Date(reset * 1000).toISOString()}`
        : 'try again later';
  return errors.fetchError({
    message: `${url}: GitHub API rate limit exceeded (HTTP ${status}); ${when}`,
    hint: hadToken
      ? "The token's rate limit is used up; wait for the reset or use another token."
      : 'Set GITHUB_TOKEN to a GitHub token (any read-only token): authenticated requests get a far higher limit.',
    phase: 'fetch',
    changed: false,
    details: { url, status, ...(Number.isFinite(reset) ? { resetAt: reset } : {}) },
  });
}

/** GET `path` of the API as JSON; 404, rate limits and other failures become typed fetch errors. */
export async function githubJson(path: string, opts: GithubApiOptions, notFound: () => LlmUpgradeError): Promise<unknown> {
  const url = `${apiBase(opts)}${path}`;
  const res = await get(url, apiHeaders(opts), opts, true);
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of res.body) {
      n += (c as Buffer).length;
      if (n > 16 * 1024 * 1024) throw fetchError(`${url}: answer larger than 16 MiB`);
      chunks.push(c as Buffer);
    }
  } catch (e) {
    if (e instanceof LlmUpgradeError) throw e;
    throw fetchError(`${url}: ${(e as Error).message}`);
  }
  const limited =
    res.status === 429 ||
    (res.status === 403 && (res.headers['x-ratelimit-remaining'] === '0' || res.headers['retry-after'] !== undefined));
  if (limited) throw rateLimited(url, res.status, res.headers, opts.token !== undefined);
  if (res.status === 404) throw notFound();
  if (res.status === 401)
    throw fetchError(`${url}: HTTP 401 (the token was refused)`, 'Check GITHUB_TOKEN: it is wrong or expired.', { url, status: 401 });
  if (res.status !== 200)
    throw fetchError(`${url}: HTTP ${res.status}`, 'Check --github-api and the network, then run the command again.', {
      url,
      status: res.status,
    });
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (e) {
    throw fetchError(
      `${url}: the answer is not JSON (${(e as Error).message})`,
      'Check --github-api: it must be the API base URL (https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise).',
    );
  }
}
