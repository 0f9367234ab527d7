import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  decodeProcessEntry,
  decodeRmProcessInfo,
  encodeProcessEntry,
  encodeRmProcessInfo,
  PROCESSENTRY32W,
  RM_PROCESS_INFO,
} from './layout.js';
import { recorded } from './recorded.js';

/** "NAME size=568 field=8 ..." lines printed by probe/winproc-probe.c (mingw-w64 headers, Wine 8). */
function probeLayout(): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>();
  for (const line of recorded('win32/wine8-winproc-probe-layout.txt').split(/\r?\n/)) {
    const [name, ...fields] = line.trim().split(/\s+/);
    if (!name) continue;
    out.set(name, Object.fromEntries(fields.map((f) => f.split('=')).map(([k, v]) => [k, Number(v)])));
  }
  return out;
}

describe('structure layouts match the compiler', () => {
  it('PROCESSENTRY32W (x64)', () => {
    const c = probeLayout().get('PROCESSENTRY32W');
    expect(c).toEqual({
      size: PROCESSENTRY32W.size,
      th32ProcessID: PROCESSENTRY32W.th32ProcessID,
      th32ParentProcessID: PROCESSENTRY32W.th32ParentProcessID,
      szExeFile: PROCESSENTRY32W.szExeFile,
    });
  });
  it('RM_PROCESS_INFO', () => {
    const c = probeLayout().get('RM_PROCESS_INFO');
    expect(c).toEqual({
      size: RM_PROCESS_INFO.size,
      strAppName: RM_PROCESS_INFO.strAppName,
      strServiceShortName: RM_PROCESS_INFO.strServiceShortName,
      ApplicationType: RM_PROCESS_INFO.ApplicationType,
    });
  });
});

describe('decoders', () => {
  it('reads pid, parent and a UTF-16 image name up to its NUL', () => {
    const buf = encodeProcessEntry({ pid: 8120, ppid: 7392, exeFile: 'llama-server.exe' });
    expect(buf.readUInt32LE(0)).toBe(568);
    expect(decodeProcessEntry(buf)).toEqual({ pid: 8120, ppid: 7392, exeFile: 'llama-server.exe' });
    // Process32NextW overwrites the name in place: a shorter name must not show the old tail.
    buf.fill(0, PROCESSENTRY32W.szExeFile);
    buf.write('a.exe', PROCESSENTRY32W.szExeFile, 'utf16le');
    expect(decodeProcessEntry(buf).exeFile).toBe('a.exe');
  });
  it('reads non-ASCII names', () => {
    expect(decodeProcessEntry(encodeProcessEntry({ pid: 1, ppid: 0, exeFile: 'モデル.exe' })).exeFile).toBe('モデル.exe');
  });
  it('reads the n-th RM_PROCESS_INFO with its start FILETIME as a decimal key', () => {
    const buf = Buffer.alloc(RM_PROCESS_INFO.size * 2);
    const a = { pid: 7392, startKey: '134399818017000000', appName: 'ollama.exe', serviceShortName: '', appType: 5 };
    const b = { pid: 1480, startKey: '134399808123456789', appName: 'Task Scheduler', serviceShortName: 'Schedule', appType: 3 };
    encodeRmProcessInfo(a, buf, 0);
    encodeRmProcessInfo(b, buf, 1);
    expect(decodeRmProcessInfo(buf, 0)).toEqual(a);
    expect(decodeRmProcessInfo(buf, 1)).toEqual(b);
    // The FILETIME halves sit at offsets 4 (low) and 8 (high), 4-byte aligned.
    expect(buf.readUInt32LE(RM_PROCESS_INFO.size + 8) * 2 ** 32 + buf.readUInt32LE(RM_PROCESS_INFO.size + 4)).toBe(
      Number(BigInt(b.startKey)),
    );
  });
});

const MINGW = ['/usr/bin/x86_64-w64-mingw32-gcc', '/usr/bin/x86_64-w64-mingw32-gcc-posix'].find((p) => existsSync(p));
describe.skipIf(!MINGW)(`probe/winproc-probe.c (${MINGW ?? 'x86_64-w64-mingw32-gcc not installed'})`, () => {
  it('builds with mingw-w64 into a PE executable', () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmu-probe-'));
    try {
      const exe = join(dir, 'winproc-probe.exe');
      execFileSync(MINGW ?? '', ['-O2', '-Wall', '-Werror', '-o', exe, fileURLToPath(new URL('./probe/winproc-probe.c', import.meta.url))]);
      expect(readFileSync(exe).subarray(0, 2).toString('latin1')).toBe('MZ');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // A compiler run, not a unit: under load it can take far longer than vitest's 5 s default.
  }, 120_000);
});
