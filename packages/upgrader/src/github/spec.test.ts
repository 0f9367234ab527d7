import { describe, expect, it } from 'vitest';
import { parseGithubFeed } from './spec.js';

describe('parseGithubFeed', () => {
  it('reads OWNER/REPO and an optional tag', () => {
    expect(parseGithubFeed('github:ollama/ollama')).toEqual({ owner: 'ollama', repo: 'ollama' });
    expect(parseGithubFeed('github:o/r.js@v0.12.3-rc1')).toEqual({ owner: 'o', repo: 'r.js', tag: 'v0.12.3-rc1' });
  });
  it.each(['github:ollama', 'github:o/r/x', 'github:-o/r', 'github:o/..', 'github:o/r@', 'github:o/r@a..b', 'https://x/feed.json'])(
    'refuses %s as usage',
    (feed) => {
      expect(() => parseGithubFeed(feed)).toThrow(expect.objectContaining({ code: 'ERR_USAGE' }));
    },
  );
});
