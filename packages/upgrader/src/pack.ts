import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, readFile, readlink, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import semver from 'semver';
import { type LlmUpgradeError, platformKey, errors } from '@llm-upgrade/core';
import { tarStream, type TarWriteEntry } from './archive/tar.js';
import { writeZip } from './archive/zip.js';
import { walk } from './fsutil.js';
import { parseManifest, serializeManifest, type Manifest, type ManifestFile, type ManifestLink } from './manifest.js';
import { MANIFEST_NAME, SIGNATURE_NAME, unsafeLinkReason, unsafePathReason } from './paths.js';
import { loadPrivateKey, signManifest } from './signature.js';

export interface PackOptions {
  dir: string;
  name: string;
  version: string;
  /** Defaults to this machine's platform key (linux-x64...). */
  platform?: string;
  /** Ed25519 private key file; writes llm-upgrade.json.sig. */
  signKey?: string;
  /** .tar.gz, .tgz or .zip */
  out: string;
  /** argv relative to the root that prints the version; default: the `smoke` of DIR/llm-upgrade.json if present. */
  smoke?: string[];
  onEvent?: (e: { type: 'pack'; files: number; bytes: number }) => void;
}

export interface PackResult {
  ok: true;
  out: string;
  format: 'tar.gz' | 'zip';
  name: string;
  version: string;
  platform: string;
  files: number;
  links: number;
  bytes: number;
  signed: boolean;
  /** Of the archive, for a feed entry. */
  size: number;
  sha256: string;
}

function usage(message: string, hint: string): LlmUpgradeError {
  return errors.usageError({ message, hint, phase: 'pack', changed: false });
}

async function hashFile(path: string): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const c of createReadStream(path, { highWaterMark: 1 << 20 })) {
    h.update(c as Buffer);
    size += (c as Buffer).length;
  }
  return { sha256: h.digest('hex'), size };
}

/** Writes DIR's files as a package: a manifest with size, SHA-256 and mode of each file, and a deterministic archive. */
export async function pack(opts: PackOptions): Promise<PackResult> {
  const dir = resolve(opts.dir);
  const out = resolve(opts.out);
  const format = /\.zip$/i.test(out) ? 'zip' : /\.(tar\.gz|tgz)$/i.test(out) ? 'tar.gz' : null;
  if (!format) throw usage(`--out ${out}: the name must end in .tar.gz, .tgz or .zip`, 'The extension chooses the archive format.');
  if (!semver.valid(opts.version))
    throw errors.notSemverError({
      message: `--version "${opts.version}" is not a semantic version`,
      hint: 'Use x.y.z, e.g. 0.12.3.',
      phase: 'pack',
      changed: false,
    });
  if (!opts.name) throw usage('pack needs --name', 'Name the product, e.g. --name ollama.');
  if (!(await stat(dir).catch(() => null))?.isDirectory())
    throw usage(`${dir} is not a directory`, 'pack DIR takes the directory whose files make the new version.');

  let smoke = opts.smoke;
  if (!smoke) {
    try {
      smoke = parseManifest(await readFile(join(dir, MANIFEST_NAME)), join(dir, MANIFEST_NAME)).smoke;
    } catch {
      smoke = undefined;
    }
  }
  const files: ManifestFile[] = [];
  const links: ManifestLink[] = [];
  for (const e of await walk(dir)) {
    if (e.path === MANIFEST_NAME || e.path === SIGNATURE_NAME || e.kind === 'dir') continue;
    const reason = unsafePathReason(e.path);
    if (reason) throw usage(`${join(dir, e.path)}: ${reason}`, 'Rename or remove the file before packing.');
    const full = join(dir, e.path);
    if (e.kind === 'symlink') {
      const link = await readlink(full);
      const why = unsafeLinkReason(e.path, link);
      if (why) throw usage(`${full}: ${why}`, 'Packages may only contain links that stay inside the install.');
      links.push({ path: e.path, link });
    } else if (e.kind === 'file') {
      const st = await lstat(full);
      const { sha256, size } = await hashFile(full);
      files.push({ path: e.path, size, sha256, mode: st.mode & 0o777 });
    } else throw usage(`${full} is a device, fifo or socket`, 'Packages hold regular files, directories and links only.');
  }
  const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  files.sort(byPath);
  links.sort(byPath);
  const manifest: Manifest = {
    name: opts.name,
    version: opts.version,
    platform: opts.platform ?? platformKey(),
    files,
    ...(links.length ? { links } : {}),
    ...(smoke ? { smoke } : {}),
  };
  const mBytes = Buffer.from(serializeManifest(manifest), 'utf8');
  parseManifest(mBytes, 'generated manifest'); // the packer refuses what apply would refuse
  const sig = opts.signKey ? Buffer.from(signManifest(mBytes, await loadPrivateKey(opts.signKey)), 'utf8') : undefined;

  const fileMode = new Map(files.map((f) => [f.path, f]));
  const entries: TarWriteEntry[] = [
    {
      path: MANIFEST_NAME,
      type: 'file',
      mode: 0o644,
      size: mBytes.length,
      content: async function* () {
        yield mBytes;
      },
    },
    ...(sig
      ? [
          {
            path: SIGNATURE_NAME,
            type: 'file' as const,
            mode: 0o644,
            size: sig.length,
            content: async function* () {
              yield sig;
            },
          },
        ]
      : []),
  ];
  const payload: TarWriteEntry[] = [
    ...files.map(
      (f): TarWriteEntry => ({
        path: f.path,
        type: 'file',
        mode: f.mode,
        size: f.size,
        content: () => createReadStream(join(dir, f.path), { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>,
      }),
    ),
    ...links.map((l): TarWriteEntry => ({ path: l.path, type: 'symlink', mode: 0o777, size: 0, linkname: l.link })),
  ].sort(byPath);
  entries.push(...payload);
  void fileMode;

  const tmp = `${out}.tmp-${process.pid}`;
  try {
    if (format === 'tar.gz') {
      await pipeline(Readable.from(tarStream(entries)), createGzip({ level: 6 }), createWriteStream(tmp));
    } else {
      await writeZip(entries, tmp, (e) => e.content!());
    }
    await rename(tmp, out);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  const archive = await hashFile(out);
  const bytes = files.reduce((n, f) => n + f.size, 0);
  opts.onEvent?.({ type: 'pack', files: files.length, bytes });
  return {
    ok: true,
    out,
    format,
    name: manifest.name,
    version: manifest.version,
    platform: manifest.platform!,
    files: files.length,
    links: links.length,
    bytes,
    signed: sig !== undefined,
    size: archive.size,
    sha256: archive.sha256,
  };
}
