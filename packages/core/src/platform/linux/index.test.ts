import { describe, expect, it } from 'vitest';
import {
  execStartPaths,
  mapsPathsContaining,
  parseCgroupUnit,
  parseMapsPaths,
  parseStat,
  procHidingOption,
  stripDeleted,
} from './index.js';

const tail = 'S 1 8569 8569 0 -1 4194368 87 0 0 0 0 0 0 0 20 0 1 0 123456 2510848 214 18446744073709551615';

describe('/proc parsing', () => {
  it('reads stat fields after the last parenthesis', () => {
    expect(parseStat(`8572 (llama-server) ${tail}`)).toEqual({
      pid: 8572,
      comm: 'llama-server',
      state: 'S',
      ppid: 1,
      flags: 4194368,
      startTicks: '123456',
      numThreads: 1,
    });
  });
  it('survives comm with spaces, parentheses and ") " inside', () => {
    expect(parseStat(`77 (ollama app) ${tail}`)?.comm).toBe('ollama app');
    const tricky = parseStat(`78 (a) b (c)) Z ${tail.slice(2)}`);
    expect(tricky).toMatchObject({ pid: 78, comm: 'a) b (c)', state: 'Z', ppid: 1 });
    // the state letter directly after comm: here the comm ends in ") Z" and the real state is S
    expect(parseStat(`79 (x) Z 1 ) ${tail}`)).toMatchObject({ comm: 'x) Z 1 ', state: 'S', ppid: 1, startTicks: '123456' });
  });
  it('refuses truncated stat text', () => {
    expect(parseStat('12 (x) S 1 2')).toBeNull();
    expect(parseStat('garbage')).toBeNull();
  });
  it("strips the kernel's deleted marker", () => {
    expect(stripDeleted('/opt/o/bin/ollama (deleted)')).toEqual({ path: '/opt/o/bin/ollama', deleted: true });
    expect(stripDeleted('/opt/o/bin/ollama')).toEqual({ path: '/opt/o/bin/ollama', deleted: false });
  });
  it('finds the systemd service from cgroup v1 and v2 files', () => {
    expect(parseCgroupUnit('0::/system.slice/ollama.service\n')).toEqual({ unit: 'ollama.service', scope: 'system' });
    expect(parseCgroupUnit('12:pids:/\n1:name=systemd:/system.slice/ollama.service\n0::/\n')).toEqual({
      unit: 'ollama.service',
      scope: 'system',
    });
    expect(parseCgroupUnit('0::/user.slice/user-1000.slice/user@1000.service/app.slice/ollama.service\n')).toEqual({
      unit: 'ollama.service',
      scope: 'user',
      uid: 1000,
    });
    expect(parseCgroupUnit('0::/user.slice/user-1000.slice/user@1000.service/init.scope\n')).toBeNull();
    expect(parseCgroupUnit('0::/user.slice/user-1000.slice/session-3.scope\n')).toBeNull();
    expect(parseCgroupUnit('0::/\n')).toBeNull();
  });
  it('reads map paths with spaces and deleted markers', () => {
    const maps = [
      '55d0c0a00000-55d0c0a01000 r--p 00000000 08:01 1234                       /tmp/my install/bin/ollama app',
      '7f0000000000-7f0000100000 r--s 00000000 08:01 99                         /tmp/models/model.gguf (deleted)',
      '7f0000200000-7f0000201000 rw-p 00000000 00:00 0 ',
      '7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]',
      '55d0c0a01000-55d0c0a02000 r-xp 00001000 08:01 1234                       /tmp/my install/bin/ollama app',
    ].join('\n');
    expect(parseMapsPaths(maps)).toEqual(['/tmp/my install/bin/ollama app', '/tmp/models/model.gguf (deleted)']);
  });
  it('reads only the map lines that name a root, from the bytes', () => {
    const maps = Buffer.from(
      [
        '55d0c0a00000-55d0c0a01000 r--p 00000000 08:01 1234                       /usr/lib/libc.so.6',
        '7f0000000000-7f0000100000 r--s 00000000 08:01 99                         /tmp/models/model.gguf (deleted)',
        '7f0000200000-7f0000201000 rw-p 00000000 00:00 0 ',
        '7f0000300000-7f0000301000 r--p 00000000 08:01 98                         /tmp/modelsX/other.bin',
        '7f0000400000-7f0000401000 r--p 00000000 08:01 97                         /opt/ü/lib.so',
        '7f0000500000-7f0000501000 r--p 00000000 08:01 99                         /tmp/models/model.gguf (deleted)',
        '7f0000600000-7f0000601000 r--p 00000000 08:01 96                         /tmp/models/last.bin',
        '7f0000700000-7f0000701000 r--p 00000000 08:01 95                         /srv/tmp/models/elsewhere.bin',
      ].join('\n'),
    );
    // a prefix match (modelsX) is returned too: the caller's root test decides; a root in the middle of a path is not
    expect(mapsPathsContaining(maps, [Buffer.from('/tmp/models')])).toEqual([
      '/tmp/models/model.gguf (deleted)',
      '/tmp/modelsX/other.bin',
      '/tmp/models/last.bin',
    ]);
    expect(mapsPathsContaining(maps, [Buffer.from('/opt/ü')])).toEqual(['/opt/ü/lib.so']);
    expect(mapsPathsContaining(maps, [Buffer.from('/srv')])).toEqual(['/srv/tmp/models/elsewhere.bin']);
    expect(mapsPathsContaining(maps, [Buffer.from('/var')])).toEqual([]);
    expect(mapsPathsContaining(Buffer.alloc(0), [Buffer.from('/tmp')])).toEqual([]);
  });
  it("notices a /proc that hides other users' processes", () => {
    const line = (opts: string) => `22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc ${opts}`;
    expect(procHidingOption(`${line('rw')}\n25 22 0:5 / /proc/sys/fs/binfmt_misc rw - binfmt_misc binfmt_misc rw`)).toBeNull();
    expect(procHidingOption(line('rw,hidepid=2,gid=4'))).toBe('hidepid=2');
    expect(procHidingOption(line('rw,hidepid=invisible'))).toBe('hidepid=invisible');
    expect(procHidingOption(line('rw,subset=pid'))).toBe('subset=pid');
    expect(procHidingOption(line('rw,hidepid=0'))).toBeNull();
    expect(procHidingOption('30 1 0:40 / /mnt/proc rw - proc proc rw,hidepid=2')).toBeNull();
  });
});

describe('execStartPaths', () => {
  it('reads the binaries of systemctl show -p ExecStart', () => {
    const show =
      'ActiveState=activating\nExecStart={ path=/usr/local/bin/ollama ; argv[]=/usr/local/bin/ollama serve ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }\n';
    expect(execStartPaths(show)).toEqual(['/usr/local/bin/ollama']);
    expect(execStartPaths('ExecStart=\n')).toEqual([]);
  });
});
