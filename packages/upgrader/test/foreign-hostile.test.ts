// Foreign archives (no manifest) get the same hostile-entry rules as our own packages, plus the
// prefix layout's: every entry inside a root. Each archive here has a correct checksum line, so
// only the entry rules can refuse it; the install must stay byte-identical.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ollamaProfile } from '@llm-upgrade/core';
import { layOutOllamaInstall, makeOllamaRelease, TestKit, type OllamaInstall, type OllamaRelease } from '@llm-upgrade/testkit';
import { apply } from 'llm-upgrade';
import { rawTar, sha256, type CraftEntry } from './craft.js';
import { treeDigest } from './helpers.js';

const kit = new TestKit();
let v1: OllamaRelease;
let inst: OllamaInstall;
let dir: string;
let before: string;

const zstd = (b: Buffer): Buffer => execFileSync('zstd', ['-3', '-q', '-c'], { input: b });
const snapshot = async () => treeDigest(inst.prefix, { skipState: true });

beforeAll(async () => {
  v1 = await makeOllamaRelease(kit, { version: '0.5.1' });
  inst = await layOutOllamaInstall(kit, v1);
  dir = await kit.makeTempDir('foreign-hostile-');
  before = await snapshot();
}, 120_000);

afterAll(async () => {
  await kit.cleanup();
});

const ok: CraftEntry[] = [
  { name: 'bin/ollama', content: '#!/bin/sh\necho "ollama version is 0.9.0"\n', mode: 0o755 },
  { name: 'lib/ollama/', type: '5' },
  { name: 'lib/ollama/libggml-base.so', content: 'x'.repeat(1000) },
];

async function refused(name: string, entries: CraftEntry[], reason: RegExp): Promise<void> {
  const file = join(dir, `${name}.tar.zst`);
  const bytes = zstd(rawTar(entries));
  await writeFile(file, bytes);
  const sums = join(dir, `${name}.sha256sum.txt`);
  await writeFile(sums, `${sha256(bytes)}  ./${name}.tar.zst\n`);
  await expect(
    apply({ archives: [file], checksums: sums, version: '0.9.0', roots: [inst.bin, inst.lib], profile: ollamaProfile }),
  ).rejects.toMatchObject({ code: 'ERR_UNSAFE_ENTRY', exitCode: 2, message: expect.stringMatching(reason) });
  expect(await snapshot()).toBe(before);
}

describe('hostile entries in archives without a manifest', () => {
  it('a path climbing out with ..', () => refused('dotdot', [...ok, { name: 'lib/ollama/../../../etc/passwd', content: 'x' }], /\.\./));
  it('an absolute path', () => refused('absolute', [...ok, { name: '/etc/cron.d/x', content: 'x' }], /absolute/));
  it('an entry beside the roots', () =>
    refused('beside', [...ok, { name: 'bin/othertool', content: 'x' }], /bin\/othertool.*outside the install's roots/));
  it('a hardlink', () => refused('hardlink', [...ok, { name: 'lib/ollama/h', type: '1', linkname: 'bin/ollama' }], /hardlink/));
  it('a device node', () => refused('device', [...ok, { name: 'lib/ollama/dev', type: '3' }], /device|character/));
  it('a symlink out of the roots', () =>
    refused('link-out', [...ok, { name: 'lib/ollama/l', type: '2', linkname: '../../bin/othertool' }], /outside the install's roots/));
  it('a symlink leaving the prefix', () =>
    refused('link-up', [...ok, { name: 'lib/ollama/l', type: '2', linkname: '../../../../etc' }], /leaves the root/));
  it('a file written through a symlink', () =>
    refused(
      'through-link',
      [...ok, { name: 'lib/ollama/cuda', type: '2', linkname: 'cuda_v12' }, { name: 'lib/ollama/cuda/x.so', content: 'x' }],
      /below the link/,
    ));
  it('names that collide on a case-insensitive file system', () =>
    refused('case', [...ok, { name: 'lib/ollama/A.so', content: 'a' }, { name: 'lib/ollama/a.so', content: 'b' }], /collides/));
  it('a duplicate entry', () => refused('dup', [...ok, { name: 'lib/ollama/libggml-base.so', content: 'again' }], /duplicate/));
  it("the upgrader's own state directory", () =>
    refused('state', [...ok, { name: '.llm-upgrade/journal.json', content: '{}' }], /upgrader's own \.llm-upgrade/));
});
