import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type LlmUpgradeError, errors } from '@llm-upgrade/core';
import { download, fetchText, type FetchOptions } from '../feed.js';
import type { UpgradeEventSink } from '../events.js';
import { normaliseDigest, parseSha256Sums } from './checksums.js';
import { archiveName, type ForeignArchive } from './stage-archives.js';

export interface ForeignSourceOptions {
  /** Local paths or http(s) URLs, in overlay order (base first). */
  archives: string[];
  /** Path or URL of a sha256sum file. */
  checksums?: string | undefined;
  /** Expected hex digests (or `sha256:<hex>`) by archive file name, e.g. a GitHub release asset's `digest`. */
  sha256ByName?: Record<string, string> | undefined;
  /** Where URLs are downloaded to (inside the install's state directory). */
  downloads: string;
  fetch: FetchOptions;
  onEvent?: UpgradeEventSink | undefined;
}

const isUrl = (s: string) => /^https?:\/\//i.test(s);

function usage(message: string, hint: string, details?: Record<string, unknown>): LlmUpgradeError {
  return errors.usageError({ message, hint, phase: 'verify', changed: false, ...(details ? { details } : {}) });
}

/** The digests each archive must match: its checksum line and/or its given digest (at least one; all must agree). */
export async function expectedDigests(
  opts: Pick<ForeignSourceOptions, 'archives' | 'checksums' | 'sha256ByName' | 'fetch'>,
): Promise<Map<string, { sha256: string; from: string }[]>> {
  let sums: Map<string, string> | null = null;
  if (opts.checksums) {
    const where = opts.checksums;
    const text = isUrl(where)
      ? await fetchText(where, opts.fetch)
      : await readFile(resolve(where), 'utf8').catch((e: NodeJS.ErrnoException) => {
          throw usage(
            `cannot read the checksum file ${resolve(where)} (${e.code ?? e.message})`,
            'Give --checksums FILE|URL of the release (e.g. sha256sum.txt).',
          );
        });
    sums = parseSha256Sums(text, where);
  }
  const out = new Map<string, { sha256: string; from: string }[]>();
  for (const a of opts.archives) {
    const name = archiveName(a);
    if (out.has(name)) throw usage(`archive ${name} is given twice`, 'Give each archive once, base first, add-ons after.');
    const want: { sha256: string; from: string }[] = [];
    const line = sums?.get(name);
    if (line) want.push({ sha256: line, from: `its line in ${opts.checksums}` });
    const given = opts.sha256ByName?.[name];
    if (given !== undefined) {
      const hex = normaliseDigest(given);
      if (!hex)
        throw usage(
          `the digest given for ${name} ("${given}") is not a SHA-256`,
          'Digests are 64 hex digits, optionally prefixed "sha256:".',
        );
      want.push({ sha256: hex, from: 'the release digest' });
    }
    if (want.length === 0) {
      throw errors.badChecksumError({
        message: opts.checksums ? `${name} has no line in ${opts.checksums}` : `${name} has no checksum to verify it against`,
        hint: opts.checksums
          ? 'Give the checksum file of the same release, or check the archive name.'
          : "Archives without an llm-upgrade.json need --checksums FILE|URL (the release's sha256sum.txt).",
        phase: 'verify',
        changed: false,
        details: { archive: name },
      });
    }
    out.set(name, want);
  }
  return out;
}

/** Local files for every archive (URLs downloaded, resumable, checked against the first digest) with their expected digests. */
export async function resolveForeignArchives(opts: ForeignSourceOptions): Promise<ForeignArchive[]> {
  const digests = await expectedDigests(opts);
  const out: ForeignArchive[] = [];
  for (const a of opts.archives) {
    const name = archiveName(a);
    const expected = digests.get(name)!;
    let path: string;
    if (isUrl(a)) path = await download({ url: a, sha256: expected[0]!.sha256 }, opts.downloads, opts.onEvent, opts.fetch);
    else {
      path = resolve(a);
      const st = await stat(path).catch(() => null);
      if (!st?.isFile())
        throw errors.badPackageError({
          message: `archive ${path} ${st ? 'is not a file' : 'not found'}`,
          hint: 'Give the paths (or URLs) of the release archives, base first.',
          phase: 'fetch',
          changed: false,
          details: { archive: name },
        });
    }
    out.push({ path, name, expected });
  }
  return out;
}
