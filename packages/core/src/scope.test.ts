import { describe, expect, it } from 'vitest';
import { ollamaProfile } from './profile.js';
import { classify, inScopePids, isUnderRoot, roleOf, withDescendants } from './scope.js';
import type { ProcessInfo } from './types.js';

describe('isUnderRoot', () => {
  it('accepts the root itself and paths below it', () => {
    expect(isUnderRoot('/opt/ollama', '/opt/ollama')).toBe(true);
    expect(isUnderRoot('/opt/ollama/bin/ollama', '/opt/ollama')).toBe(true);
    expect(isUnderRoot('/opt/ollama/bin/ollama', '/opt/ollama/')).toBe(true);
    expect(isUnderRoot('/opt/ollama//lib/./x', '/opt/ollama')).toBe(true);
  });
  it('refuses siblings that merely share a prefix, and parents', () => {
    expect(isUnderRoot('/opt/ollama2/bin/ollama', '/opt/ollama')).toBe(false);
    expect(isUnderRoot('/opt/ollama-old', '/opt/ollama')).toBe(false);
    expect(isUnderRoot('/opt', '/opt/ollama')).toBe(false);
    expect(isUnderRoot('/opt/ollama/../other/x', '/opt/ollama')).toBe(false);
  });
  it('treats a single-file root as exactly that file', () => {
    expect(isUnderRoot('/usr/local/bin/ollama', '/usr/local/bin/ollama')).toBe(true);
    expect(isUnderRoot('/usr/local/bin/ollama-helper', '/usr/local/bin/ollama')).toBe(false);
    expect(isUnderRoot('/usr/local/bin/other', '/usr/local/bin/ollama')).toBe(false);
  });
  it('handles the filesystem root and spaces', () => {
    expect(isUnderRoot('/anything', '/')).toBe(true);
    expect(isUnderRoot('/tmp/my install/bin/ollama app', '/tmp/my install')).toBe(true);
    expect(isUnderRoot('/tmp/my installer/x', '/tmp/my install')).toBe(false);
  });
  it('on POSIX a backslash is part of a name, not a separator', () => {
    expect(isUnderRoot('/opt/ollama\\evil', '/opt/ollama')).toBe(false);
  });
  it('compares Windows paths through pathKey, with either separator', () => {
    const key = (p: string) => p.toLowerCase().replace(/\//g, '\\');
    expect(
      isUnderRoot('C:\\Users\\A\\AppData\\Local\\Programs\\Ollama\\ollama.exe', 'c:\\users\\a\\appdata\\local\\programs\\ollama', key),
    ).toBe(true);
    expect(isUnderRoot('C:/Programs/Ollama/lib/llama-server.exe', 'C:\\Programs\\Ollama', key)).toBe(true);
    expect(isUnderRoot('C:\\Programs\\Ollama2\\x.exe', 'C:\\Programs\\Ollama', key)).toBe(false);
    expect(isUnderRoot('D:\\x', 'C:\\', key)).toBe(false);
    expect(isUnderRoot('C:\\x', 'C:\\', key)).toBe(true);
  });
});

let nextStart = 1000;
function proc(pid: number, ppid: number, exe: string | null, extra: Partial<ProcessInfo> = {}): ProcessInfo {
  const name = exe ? exe.slice(exe.lastIndexOf('/') + 1) : `p${pid}`;
  return {
    pid,
    ppid,
    name,
    exe,
    cmdline: exe ? [exe] : [],
    startTime: 0,
    startKey: String(nextStart++),
    user: 'root',
    state: 'S',
    ...extra,
  };
}

describe('roleOf', () => {
  const as = (exe: string, ...args: string[]) => roleOf({ name: 'x', exe, cmdline: [exe, ...args] }, ollamaProfile);
  it('maps every Ollama generation to its role', () => {
    expect(as('/opt/o/bin/ollama', 'serve')).toBe('server');
    expect(as('/opt/o/bin/ollama', 'runner', '--model', 'x')).toBe('engine');
    expect(as('/opt/o/lib/ollama/llama-server')).toBe('engine');
    expect(as('/opt/o/lib/ollama/ollama_llama_server')).toBe('engine');
    expect(as('/opt/o/lib/ollama/llama-quantize')).toBe('engine');
    expect(as('C:\\Ollama\\ollama app.exe')).toBe('supervisor');
    expect(as('C:\\Ollama\\OLLAMA.EXE', 'serve')).toBe('server');
    expect(as('/opt/o/bin/something-else')).toBe('other');
  });
  it('keeps macOS Ollama (tray) and ollama (server) apart by exact case first', () => {
    expect(as('/Applications/Ollama.app/Contents/MacOS/Ollama')).toBe('supervisor');
    expect(as('/Applications/Ollama.app/Contents/Resources/ollama', 'serve')).toBe('server');
  });
  it('uses the name when the exe is unreadable', () => {
    expect(roleOf({ name: 'llama-server', exe: null, cmdline: [] }, ollamaProfile)).toBe('engine');
  });
});

describe('classify', () => {
  const root = '/opt/ollama';
  const snapshot = {
    processes: [
      proc(1, 0, '/sbin/init'),
      proc(100, 1, '/usr/bin/bash'),
      proc(200, 100, `${root}/bin/ollama`, { cmdline: [`${root}/bin/ollama`, 'serve'] }), // server from a shell
      proc(201, 200, `${root}/lib/ollama/llama-server`),
      proc(202, 201, '/usr/bin/python3'), // foreign binary, but a descendant
      proc(300, 1, `${root}/lib/ollama/llama-server`), // engine whose server died
      proc(301, 300, `${root}/lib/ollama/llama-server`), // its child: in scope, not an orphan
      proc(400, 1, '/other/vendor/llama-server'), // same name elsewhere
      proc(500, 200, null, { state: 'Z' }), // zombie child of the server
      proc(600, 1, `${root}/bin/ollama`, { cmdline: [`${root}/bin/ollama`, 'runner'] }), // orphaned `ollama runner`
      proc(700, 1, `${root}2/bin/ollama`), // prefix sibling
    ],
  };
  const byPid = new Map(classify(snapshot, [root], ollamaProfile).map((p) => [p.pid, p]));
  const get = (pid: number) => byPid.get(pid) ?? expect.fail(`pid ${pid} missing`);

  it('puts exe-under-root processes and their live descendants in scope, never by name', () => {
    expect(get(200)).toMatchObject({ inScope: true, reason: 'exe', role: 'server' });
    expect(get(201)).toMatchObject({ inScope: true, reason: 'exe', role: 'engine' });
    expect(get(202)).toMatchObject({ inScope: true, reason: 'descendant', role: 'other' });
    expect(get(400)).toMatchObject({ inScope: false, orphan: false, role: 'other' });
    expect(get(700).inScope).toBe(false);
    expect(get(100).inScope).toBe(false);
  });
  it('marks engines without a live in-scope parent as orphans, but not top-level servers', () => {
    expect(get(200).orphan).toBe(false);
    expect(get(201).orphan).toBe(false);
    expect(get(300).orphan).toBe(true);
    expect(get(301).orphan).toBe(false);
    expect(get(600)).toMatchObject({ orphan: true, role: 'engine' });
  });
  it('leaves zombies out: they are gone', () => {
    expect(byPid.has(500)).toBe(false);
  });
  it('withDescendants gives an orphan and its subtree only', () => {
    const all = [...byPid.values()];
    const swept = withDescendants(
      all,
      all.filter((p) => p.orphan),
    )
      .map((p) => p.pid)
      .sort();
    expect(swept).toEqual([300, 301, 600]);
  });
  it('survives a parent cycle from a torn snapshot', () => {
    const torn = { processes: [proc(10, 11, '/x/a'), proc(11, 10, '/x/b')] };
    expect(classify(torn, [root], ollamaProfile).every((p) => !p.inScope)).toBe(true);
  });
  it('a single-file root scopes that binary and its children only', () => {
    const snap = {
      processes: [
        proc(1, 0, '/sbin/init'),
        proc(20, 1, '/usr/local/bin/ollama'),
        proc(21, 20, '/usr/local/lib/ollama/llama-server'),
        proc(22, 1, '/usr/local/bin/htop'),
      ],
    };
    const scoped = classify(snap, ['/usr/local/bin/ollama'], ollamaProfile);
    expect(scoped.filter((p) => p.inScope).map((p) => p.pid)).toEqual([20, 21]);
  });
  it('inScopePids is the in-scope set of classify', () => {
    expect([...inScopePids(snapshot, [root])].sort()).toEqual(
      [...byPid.values()]
        .filter((p) => p.inScope)
        .map((p) => p.pid)
        .sort(),
    );
  });
  it('copies keep lazily read fields unread until used, and read them through', () => {
    let reads = 0;
    const lazy = proc(200, 1, `${root}/bin/ollama`);
    Object.defineProperty(lazy, 'cmdline', {
      enumerable: true,
      get: () => {
        reads++;
        return [`${root}/bin/ollama`, 'serve'];
      },
    });
    const [copy] = classify({ processes: [lazy] }, [root], { processes: { supervisor: [], server: ['ollama'], engine: [] } });
    expect(reads).toBe(0);
    expect(copy?.cmdline).toEqual([`${root}/bin/ollama`, 'serve']);
    expect(reads).toBe(1);
    expect(JSON.parse(JSON.stringify(copy))).toMatchObject({
      pid: 200,
      cmdline: [`${root}/bin/ollama`, 'serve'],
      inScope: true,
      role: 'server',
    });
  });
});

describe('orphan = parent gone', () => {
  const root = '/opt/ollama';
  const engine = `${root}/lib/ollama/llama-server`;
  it('an engine whose live parent is a shell or any other program is not an orphan', () => {
    const snap = {
      processes: [
        proc(1, 0, '/sbin/init'),
        proc(100, 1, '/usr/bin/bash'),
        proc(101, 100, engine),
        proc(102, 1, '/usr/bin/python3'),
        proc(103, 102, engine),
      ],
    };
    const scoped = classify(snap, [root], ollamaProfile);
    expect(scoped.filter((p) => p.inScope).map((p) => [p.pid, p.orphan])).toEqual([
      [101, false],
      [103, false],
    ]);
  });
  it('reparented to PID 1, to a parent that started after it (a subreaper), or to a dead or unknown pid: an orphan', () => {
    const snap = {
      processes: [
        proc(1, 0, '/sbin/init'),
        proc(200, 1, engine, { startKey: '500' }),
        proc(201, 300, engine, { startKey: '501' }),
        proc(300, 1, '/usr/lib/systemd/systemd', { startKey: '900' }), // a subreaper started after 201
        proc(202, 4242, engine), // parent pid not in the snapshot
        proc(203, 0, engine), // Windows: stale or reused parent reported as 0
        proc(204, 205, engine, { startKey: '700' }),
        proc(205, 1, '/usr/bin/bash', { startKey: '700' }), // same tick: cannot tell, spared
      ],
    };
    const byPid = new Map(classify(snap, [root], ollamaProfile).map((p) => [p.pid, p.orphan]));
    expect(Object.fromEntries(byPid)).toMatchObject({ 200: true, 201: true, 202: true, 203: true, 204: false, 300: false });
  });
  it('a live zombie leader (reported live by the backend) keeps its children from being orphans', () => {
    const snap = {
      processes: [
        proc(1, 0, '/sbin/init'),
        proc(400, 1, '/usr/bin/bash'),
        proc(401, 400, engine, { state: 'S', liveTask: 402 }),
        proc(403, 401, engine),
      ],
    };
    const scoped = new Map(classify(snap, [root], ollamaProfile).map((p) => [p.pid, p]));
    expect(scoped.get(401)).toMatchObject({ inScope: true, orphan: false });
    expect(scoped.get(403)).toMatchObject({ inScope: true, orphan: false });
  });
});
