// readlinkat on one /proc fd directory (through koffi) against readlinkSync per fd, on real
// processes: the same targets, a gone table skipped, and the holder scan alike with either.
import { openSync, closeSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TestKit } from '@llm-upgrade/testkit';
import { fdLinkReader, readFdLinksEach } from '../src/platform/linux/fd-links.js';
import { LinuxBackend } from '../src/platform/linux/index.js';
import { VERSION } from './helpers.js';

const kit = new TestKit();
afterEach(() => kit.cleanup());

const targetsWith = (read: typeof readFdLinksEach, fdDir: string) => {
  const out: string[] = [];
  read(fdDir, readdirSync(fdDir), (t) => out.push(t));
  return out;
};

describe('fd links', () => {
  it('reads the same targets as readlinkSync per fd, including a file opened under a temp dir', async () => {
    const dir = await kit.makeTempDir('llm-upgrade-fdlinks-');
    const file = join(dir, `a file with spaces ${'x'.repeat(200)}`);
    const fd = openSync(file, 'w');
    try {
      const read = fdLinkReader();
      expect(read).not.toBe(readFdLinksEach); // koffi is installed here
      const viaKoffi = targetsWith(read, `/proc/${process.pid}/fd`);
      expect(viaKoffi).toContain(file);
      // Our own table changes while it is read (readdir opens one fd): compare the file only,
      // then every other process's table in full.
      for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e) && Number(e) !== process.pid)) {
        let each: string[];
        try {
          each = targetsWith(readFdLinksEach, `/proc/${pid}/fd`);
        } catch {
          continue; // exited, or denied to both
        }
        const again = targetsWith(read, `/proc/${pid}/fd`);
        if (again.length === each.length) expect(again.sort()).toEqual(each.sort());
      }
    } finally {
      closeSync(fd);
    }
  });

  it('skips a table that is gone, without throwing', () => {
    const seen: string[] = [];
    fdLinkReader()('/proc/0x7fffffff/fd', ['0', '1'], (t) => seen.push(t));
    expect(seen).toEqual([]);
  });

  it('finds the same holders through readlinkat as through readlinkSync', async () => {
    const inst = await kit.makeSampleInstall({ version: VERSION });
    const tree = await kit.spawnTree(inst.bin, ['serve', '--engines', '1', '--', '--hold', inst.lib]);
    const engine = tree.ready!.engines[0]!;
    const key = (h: { pid: number; kind: string; path: string }) => `${h.pid} ${h.kind} ${h.path}`;
    const scan = async (backend: LinuxBackend) =>
      (await backend.scanHolders([inst.root], await backend.snapshot())).holders.map(key).sort();
    const fast = await scan(new LinuxBackend());
    const each = await scan(new LinuxBackend({ fdLinkReader: () => readFdLinksEach }));
    expect(fast).toContain(`${engine} fd ${inst.lib}`);
    expect(fast).toEqual(each);
  });
});
