import { describe, expect, it } from 'vitest';
import { parseMountinfo, rootAliases } from './mounts.js';

const mountinfo = [
  '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
  '30 22 0:25 / /tmp rw shared:5 - tmpfs tmpfs rw',
  '40 30 0:25 /a/install /tmp/b/alias rw shared:5 - tmpfs tmpfs rw',
  '41 30 0:25 /a /tmp/c\\040space rw shared:5 - tmpfs tmpfs rw',
  '42 30 0:25 /a/install/lib /tmp/d rw shared:5 - tmpfs tmpfs rw',
  '43 22 8:1 /opt/ollama /srv/ollama rw - ext4 /dev/sda1 rw',
].join('\n');

describe('rootAliases', () => {
  const mounts = parseMountinfo(mountinfo);
  it('parses mount points with escaped spaces', () => {
    expect(mounts.map((m) => m.mountPoint)).toContain('/tmp/c space');
  });
  it('finds every other mount of the same file system showing the root or a part of it', () => {
    expect(rootAliases(['/tmp/a/install'], mounts).sort()).toEqual(['/tmp/b/alias', '/tmp/c space/install', '/tmp/d'].sort());
  });
  it('maps a bind mount back to the root it shows, and a root on / to its binds', () => {
    expect(rootAliases(['/tmp/b/alias'], mounts)).toContain('/tmp/a/install');
    expect(rootAliases(['/opt/ollama'], mounts)).toEqual(['/srv/ollama']);
    expect(rootAliases(['/opt/other'], mounts)).toEqual([]);
  });
});
