import { describe, expect, it } from 'vitest';
import { assertRootsNotTooBroad, rootTooBroadReason, type RootGuardContext } from './root-guard.js';
import { LlmUpgradeError } from './errors.js';

const linux: RootGuardContext = { os: 'linux', env: { HOME: '/home/ada' }, homes: ['/root', '/home/ada', '/srv/users/bob'] };
const darwin: RootGuardContext = { os: 'darwin', env: { HOME: '/Users/ada' }, homes: ['/Users/ada'] };
const win: RootGuardContext = {
  os: 'win32',
  env: {
    SystemDrive: 'C:',
    SystemRoot: 'C:\\Windows',
    ProgramFiles: 'C:\\Program Files',
    'ProgramFiles(x86)': 'C:\\Program Files (x86)',
    LOCALAPPDATA: 'C:\\Users\\ada\\AppData\\Local',
    APPDATA: 'C:\\Users\\ada\\AppData\\Roaming',
    USERPROFILE: 'C:\\Users\\ada',
  },
  homes: ['C:\\Users\\ada'],
};

describe('rootTooBroadReason', () => {
  it.each([
    '/',
    '/usr',
    '/usr/',
    '/usr/bin',
    '/usr/local',
    '/usr/local/bin',
    '/bin',
    '/sbin',
    '/lib',
    '/lib64',
    '/lib32',
    '/libx32',
    '/etc',
    '/var',
    '/opt',
    '/home',
    '/root',
    '/tmp',
    '/home/ada',
    '/home/someone-else',
    '/srv/users/bob',
    '/srv/users',
    '/srv',
  ])('refuses %s on Linux', (root) => {
    expect(rootTooBroadReason(root, linux)).not.toBeNull();
  });
  it.each([
    '/opt/ollama',
    '/usr/local/bin/ollama',
    '/usr/local/lib/ollama',
    '/tmp/llm-upgrade-x/install',
    '/home/ada/apps/ollama',
    '/usr/share/ollama',
    '/var/lib/ollama',
  ])('accepts %s on Linux', (root) => {
    expect(rootTooBroadReason(root, linux)).toBeNull();
  });
  it('names the system directory an ancestor contains', () => {
    expect(rootTooBroadReason('/', linux)).toMatch(/whole file system/);
    expect(rootTooBroadReason('/usr', linux)).toMatch(/system directory/);
    expect(rootTooBroadReason('/srv/users', linux)).toMatch(/home directory \/srv\/users\/bob/);
  });
  it.each(['/Applications', '/System', '/Library', '/Users', '/Users/ada', '/applications', '/private/tmp', '/usr/local'])(
    'refuses %s on macOS',
    (root) => {
      expect(rootTooBroadReason(root, darwin)).not.toBeNull();
    },
  );
  it.each(['/Applications/Ollama.app', '/Users/ada/Applications/Ollama.app'])('accepts %s on macOS', (root) => {
    expect(rootTooBroadReason(root, darwin)).toBeNull();
  });
  it.each([
    'C:\\',
    'c:\\',
    'D:\\',
    'C:\\Windows',
    'c:\\windows\\',
    'C:\\Program Files',
    'C:\\Program Files (x86)',
    'C:\\Program Files (Arm)',
    'C:\\Users',
    'C:\\Users\\ada',
    'C:\\Users\\bob',
    'C:\\Users\\ada\\AppData',
    'C:\\Users\\ada\\AppData\\Local',
    'C:\\Users\\ada\\AppData\\Roaming',
    'C:\\Users\\ada\\AppData\\Local\\Programs',
    'C:/Users/ada/AppData/Local',
  ])('refuses %s on Windows', (root) => {
    expect(rootTooBroadReason(root, win)).not.toBeNull();
  });
  it.each([
    'C:\\Users\\ada\\AppData\\Local\\Programs\\Ollama',
    'C:\\Program Files\\Ollama',
    'D:\\ollama',
    'C:\\Users\\ada\\AppData\\Local\\Programs\\Ollama\\ollama.exe',
  ])('accepts %s on Windows', (root) => {
    expect(rootTooBroadReason(root, win)).toBeNull();
  });
  it('throws ERR_ROOT_TOO_BROAD naming the root, with a hint', () => {
    let err: unknown;
    try {
      assertRootsNotTooBroad(['/opt/ollama', '/usr'], 'stop', linux);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LlmUpgradeError);
    expect(err).toMatchObject({ code: 'ERR_ROOT_TOO_BROAD', phase: 'stop', changed: false, exitCode: 2 });
    expect((err as Error).message).toContain('/usr');
    expect((err as LlmUpgradeError).hint).toMatch(/--install-dir/);
  });
});
