import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { ArchiveFormatError, tarStream, walkTar, type RawEntry, type TarWriteEntry } from './tar.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'llm-upgrade-tar-'));
  dirs.push(d);
  return d;
};

async function collect(gen: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of gen) parts.push(c);
  return Buffer.concat(parts);
}

async function readAll(buf: Buffer, chunk = 700): Promise<{ entry: RawEntry; data: Buffer }[]> {
  const out: { entry: RawEntry; data: Buffer }[] = [];
  // Odd chunk sizes: headers and bodies straddle chunk boundaries.
  const chunks = (async function* () {
    for (let i = 0; i < buf.length; i += chunk) yield buf.subarray(i, i + chunk);
  })();
  await walkTar(chunks, async (entry, body) => {
    out.push({ entry, data: await collect(body) });
  });
  return out;
}

const longName = `${'deep/'.repeat(40)}file-with-a-long-name.bin`;
const entries: TarWriteEntry[] = [
  {
    path: 'a.txt',
    type: 'file',
    mode: 0o644,
    size: 5,
    content: async function* () {
      yield Buffer.from('hello');
    },
  },
  { path: 'bin', type: 'dir', mode: 0o755, size: 0 },
  {
    path: 'bin/x',
    type: 'file',
    mode: 0o755,
    size: 1000,
    content: async function* () {
      yield Buffer.alloc(1000, 3);
    },
  },
  { path: 'lnk', type: 'symlink', mode: 0o777, size: 0, linkname: 'bin/x' },
  {
    path: longName,
    type: 'file',
    mode: 0o600,
    size: 3,
    content: async function* () {
      yield Buffer.from('abc');
    },
  },
  { path: 'empty', type: 'file', mode: 0o644, size: 0, content: async function* () {} },
];

describe('tar writer/reader', () => {
  it('round-trips files, directories, links and long names', async () => {
    const buf = await collect(tarStream(entries));
    const got = await readAll(buf);
    expect(got.map((g) => [g.entry.name, g.entry.type, g.entry.size])).toEqual([
      ['a.txt', 'file', 5],
      ['bin/', 'dir', 0],
      ['bin/x', 'file', 1000],
      ['lnk', 'symlink', 0],
      [longName, 'file', 3],
      ['empty', 'file', 0],
    ]);
    expect(got[0]!.data.toString()).toBe('hello');
    expect(got[2]!.entry.mode).toBe(0o755);
    expect(got[3]!.entry.linkname).toBe('bin/x');
    expect(got[4]!.data.toString()).toBe('abc');
  });

  it('writes what GNU tar reads, and reads what GNU tar writes (pax and GNU long names)', async () => {
    const d = tmp();
    const ours = join(d, 'ours.tar');
    writeFileSync(ours, await collect(tarStream(entries)));
    const listing = execFileSync('tar', ['tvf', ours]).toString();
    expect(listing).toContain(longName);
    expect(listing).toContain('lnk -> bin/x');
    const src = join(d, 'src');
    mkdirSync(join(src, ...longName.split('/').slice(0, -1)), { recursive: true });
    writeFileSync(join(src, longName), 'gnu');
    symlinkSync('x', join(src, 'l'));
    for (const format of ['gnu', 'pax', 'ustar']) {
      const file = join(d, `${format}.tar`);
      try {
        execFileSync('tar', ['cf', file, `--format=${format}`, '-C', src, '.'], { stdio: 'pipe' });
      } catch {
        continue; // ustar cannot hold the long name; GNU tar refuses
      }
      const got = await readAll(readFileSync(file));
      const f = got.find((g) => g.entry.name === `./${longName}`);
      expect(f?.data.toString(), format).toBe('gnu');
      expect(got.find((g) => g.entry.name === './l')?.entry.linkname).toBe('x');
    }
  });

  it('reports truncation and corruption', async () => {
    const buf = await collect(tarStream(entries));
    await expect(readAll(buf.subarray(0, 1500))).rejects.toBeInstanceOf(ArchiveFormatError);
    await expect(readAll(buf.subarray(0, buf.length - 1024))).rejects.toThrow(/end-of-archive/);
    const bad = Buffer.from(buf);
    bad[3] = 0x7a;
    await expect(readAll(bad)).rejects.toThrow(/checksum/);
  });

  it('skips what the visitor does not read', async () => {
    const buf = await collect(tarStream(entries));
    const names: string[] = [];
    await walkTar(Readable.from([buf]), async (e) => {
      names.push(e.name);
    });
    expect(names).toHaveLength(entries.length);
  });
});
