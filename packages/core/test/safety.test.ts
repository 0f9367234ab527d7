// The safety rules of issue 9 against real processes: orphan = parent gone, threads (a zombie
// leader with a live worker, a thread with its own fd table), bind mounts, interrupts during a
// freeze, pidfd signals.
import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { descendantsOf, listPids, readProcLink, readStat, TestKit, waitFor } from '@llm-upgrade/testkit';
import { frozenRecordDir, getBackend, isUnderRoot, scanHolders, status, stop, sweep, LlmUpgradeError } from '../src/index.js';
import { pidfdApi } from '../src/platform/linux/pidfd.js';
import { fileTableComparer } from '../src/platform/linux/kcmp.js';
import { LinuxBackend } from '../src/platform/linux/index.js';
import { alive, VERSION } from './helpers.js';

const kit = new TestKit();
const cleanups: (() => void)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) f();
  await kit.cleanup();
});

/** Alive while any thread is: PID 1 never reaps here, so a killed process may stay a zombie. */
function threadsAlive(pid: number): boolean {
  try {
    return readdirSync(`/proc/${pid}/task`).some((t) => {
      const s = readStat(Number(t));
      return s !== null && s.state !== 'Z' && s.state !== 'X';
    });
  } catch {
    return false;
  }
}

async function compileThreads(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const out = join(dir, 'threads');
  execFileSync('cc', ['-O1', '-pthread', '-o', out, new URL('./fixtures/threads.c', import.meta.url).pathname]);
  return out;
}

/** Spawns a program that prints `ready <pid>` somewhere in its output (maybe from a child); returns that pid. */
async function readyPid(tree: { stdout(): string }): Promise<number> {
  let pid = 0;
  await waitFor(
    () => {
      const m = /ready (\d+)/.exec(tree.stdout());
      pid = m ? Number(m[1]) : 0;
      return pid > 0;
    },
    { what: 'a ready line' },
  );
  return pid;
}

describe('orphan = parent gone', () => {
  it('sweep spares an engine whose live parent is a shell, and ends a true orphan', async () => {
    const inst = await kit.makeSampleInstall({ version: VERSION });
    const shell = await kit.spawnTree('/bin/sh', ['-c', '"$0" engine & wait', inst.engine], { waitReady: false });
    const fromShell = await readyPid(shell);
    kit.track(fromShell);
    const crashed = await kit.spawnTree(inst.bin, ['serve', '--engines', '1', '--crash']);
    await crashed.exited;
    const orphan = crashed.ready!.engines[0]!;
    expect(readStat(fromShell)?.ppid).toBe(shell.pid);

    const before = await status({ roots: [inst.root] });
    expect(before.processes.find((p) => p.pid === fromShell)).toMatchObject({ inScope: true, orphan: false });
    expect(before.orphans.map((p) => p.pid)).toEqual([orphan]);

    const result = await sweep({ roots: [inst.root], graceMs: 300 });
    expect(result.ok).toBe(true);
    expect(result.stopped.map((p) => p.pid)).toEqual([orphan]);
    expect(threadsAlive(orphan)).toBe(false);
    expect(alive(fromShell)).toBe(true);
    expect(alive(shell.pid)).toBe(true);
  });
});

describe('threads', () => {
  it('a process whose main thread called pthread_exit while a worker maps a file under the root is in scope, held, and stopped', async () => {
    const inst = await kit.makeSampleInstall({ version: VERSION });
    const bin = await compileThreads(join(inst.root, 'bin'));
    const tree = await kit.spawnTree(bin, ['leader-exit', inst.lib]);
    cleanups.push(() => tree.child.kill('SIGKILL'));
    await waitFor(() => readStat(tree.pid)?.state === 'Z', { what: 'the leader to exit' });
    expect(threadsAlive(tree.pid)).toBe(true);

    const seen = await status({ roots: [inst.root] });
    expect(seen.processes.find((p) => p.pid === tree.pid)).toMatchObject({ inScope: true, exe: bin });
    const held = await scanHolders({ roots: [inst.root] });
    expect(
      held.holders
        .filter((h) => h.pid === tree.pid)
        .map((h) => `${h.kind}:${h.path}`)
        .sort(),
    ).toEqual([`exe:${bin}`, `map:${inst.lib}`]);

    const result = await stop({ roots: [inst.root], graceMs: 200, timeoutMs: 10_000 });
    expect(result.ok).toBe(true);
    expect(result.stopped.map((p) => p.pid)).toContain(tree.pid);
    expect(threadsAlive(tree.pid)).toBe(false);
  });

  it('a thread with its own fd table (unshare CLONE_FILES) holding a file under the root is a holder', async () => {
    const inst = await kit.makeSampleInstall({ version: VERSION });
    const outside = await kit.makeTempDir('llm-upgrade-foreign-');
    const bin = await compileThreads(outside);
    const tree = await kit.spawnTree(bin, ['unshare-fd', inst.lib]);
    // The main thread's table does not list it: only the worker's does.
    const mainFds = readdirSync(`/proc/${tree.pid}/fd`).map((fd) => readProcLinkAt(`/proc/${tree.pid}/fd/${fd}`));
    expect(mainFds).not.toContain(inst.lib);

    const held = await scanHolders({ roots: [inst.root] });
    expect(held.holders.filter((h) => h.pid === tree.pid)).toMatchObject([{ kind: 'fd', path: inst.lib, inScope: false }]);
    const result = await stop({ roots: [inst.root], graceMs: 100, timeoutMs: 1_000 });
    expect(result.ok).toBe(false);
    expect(result.holders.map((h) => h.pid)).toContain(tree.pid);
    expect(alive(tree.pid)).toBe(true); // a foreign holder is waited for, never killed
  });

  it('a thread with its own fd table that keeps the fd count and numbers of the main thread is a holder, and stop does not report "nothing held"', async () => {
    const inst = await kit.makeSampleInstall({ version: VERSION });
    const outside = await kit.makeTempDir('llm-upgrade-foreign-');
    const bin = await compileThreads(outside);
    const tree = await kit.spawnTree(bin, ['unshare-dup2', inst.lib]);
    cleanups.push(() => tree.child.kill('SIGKILL'));
    const worker = readdirSync(`/proc/${tree.pid}/task`)
      .map(Number)
      .find((tid) => tid !== tree.pid);
    expect(worker).toBeDefined();
    const fdsOf = (fdDir: string) =>
      new Map(
        readdirSync(fdDir)
          .sort()
          .map((fd) => [fd, readProcLinkAt(`${fdDir}/${fd}`)] as const),
      );
    const mainFds = fdsOf(`/proc/${tree.pid}/fd`);
    const workerFds = fdsOf(`/proc/${tree.pid}/task/${worker}/fd`);
    // Same count and the same fd numbers in both tables; only the worker's holds the file.
    expect([...workerFds.keys()]).toEqual([...mainFds.keys()]);
    expect([...mainFds.values()]).not.toContain(inst.lib);
    expect([...workerFds.values()]).toContain(inst.lib);

    const held = await scanHolders({ roots: [inst.root] });
    expect(held.holders.filter((h) => h.pid === tree.pid)).toMatchObject([{ kind: 'fd', path: inst.lib, inScope: false }]);
    // kcmp tells the two tables apart here; without kcmp (no koffi, ENOSYS, EPERM) every table is read.
    const compare = fileTableComparer();
    expect(compare).not.toBeNull();
    expect(compare!(tree.pid, worker!)).toBe('different');
    for (const fallback of [() => null, () => () => 'unknown' as const]) {
      const backend = new LinuxBackend({ fileTableComparer: fallback });
      const scanned = await backend.scanHolders([inst.root], await backend.snapshot());
      expect(scanned.holders.filter((h) => h.pid === tree.pid)).toMatchObject([{ kind: 'fd', path: inst.lib }]);
    }
    const result = await stop({ roots: [inst.root], graceMs: 100, timeoutMs: 1_000 });
    expect(result.ok).toBe(false);
    expect(result.holders.filter((h) => h.pid === tree.pid).map((h) => h.path)).toEqual([inst.lib]);
    expect(alive(tree.pid)).toBe(true); // a foreign holder is waited for, never killed
  });
});

function readProcLinkAt(path: string): string | null {
  try {
    return execFileSync('readlink', [path], { encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

describe('bind mounts', () => {
  it('the same files reached through a bind mount of the root are in scope and held', async () => {
    const inst = await kit.makeSampleInstall({ version: VERSION });
    const alias = join(await kit.makeTempDir('llm-upgrade-bind-'), 'alias');
    await mkdir(alias);
    execFileSync('mount', ['--bind', inst.root, alias]);
    cleanups.push(() => execFileSync('umount', ['-l', alias]));
    const viaAlias = await kit.spawnTree(join(alias, 'bin', 'ollama'), [
      'serve',
      '--engines',
      '1',
      '--',
      '--hold',
      join(alias, 'lib', 'ollama', 'libggml-base.so'),
    ]);
    expect(readProcLink(viaAlias.pid, 'exe')).toBe(join(alias, 'bin', 'ollama'));
    const engine = viaAlias.ready!.engines[0]!;

    const seen = await status({ roots: [inst.root] });
    expect(seen.processes.map((p) => p.pid).sort()).toEqual([viaAlias.pid, engine].sort());
    const held = await scanHolders({ roots: [inst.root] });
    expect(
      held.holders.some((h) => h.pid === engine && h.kind === 'fd' && h.path === join(alias, 'lib', 'ollama', 'libggml-base.so')),
    ).toBe(true);

    const result = await stop({ roots: [inst.root], graceMs: 300, timeoutMs: 10_000 });
    expect(result.ok).toBe(true);
    expect([viaAlias.pid, engine].some(threadsAlive)).toBe(false);
  });
});

/** Pids of the storm (and anything else from the root), with their states. */
function statesUnder(root: string, top: number): Map<number, string> {
  const pids = new Set<number>([top, ...descendantsOf([top])]);
  for (const pid of listPids()) {
    const exe = readProcLink(pid, 'exe');
    if (exe !== null && isUnderRoot(exe, root)) pids.add(pid);
  }
  const out = new Map<number, string>();
  for (const pid of pids) {
    const s = readStat(pid);
    if (s) out.set(pid, s.state);
  }
  return out;
}

describe('interrupts', () => {
  it('SIGINT at random moments of stop and sweep over a fork storm: ERR_INTERRUPTED, and nothing is left stopped (T)', async () => {
    let interrupted = 0;
    let duringFreeze = 0;
    for (let i = 0; i < 8; i++) {
      const inst = await kit.makeSampleInstall({ version: VERSION });
      const sweeping = i % 2 === 1;
      // sweep: the storm's top is an orphaned engine (its shell exited); stop: a storm under the server binary.
      const tree = sweeping
        ? await kit.spawnTree('/bin/sh', ['-c', '"$0" storm 3 --width 3 --churn-ms 20 --ignore-term & exit 0', inst.engine], {
            waitReady: false,
          })
        : await kit.spawnTree(inst.bin, ['storm', '3', '--width', '3', '--churn-ms', '20', '--ignore-term']);
      const top = sweeping ? await readyPid(tree) : tree.pid;
      kit.track(top);
      await waitFor(() => descendantsOf([top]).size > 20, { what: 'the storm to grow' });
      const controller = new AbortController();
      // Every other run of each kind aborts right at the first freeze; the others at a random moment.
      const atFreeze = i % 4 >= 2;
      const delay = Math.floor(Math.random() * 250);
      const timer = atFreeze ? undefined : setTimeout(() => controller.abort('SIGINT'), delay);
      let froze = false;
      const onEvent = (e: { type: string }) => {
        if (e.type !== 'freeze') return;
        froze = true;
        if (atFreeze) controller.abort('SIGINT');
      };
      let wasInterrupted = false;
      try {
        await (sweeping ? sweep : stop)({ roots: [inst.root], graceMs: 50, timeoutMs: 10_000, signal: controller.signal, onEvent });
      } catch (e) {
        expect(e).toBeInstanceOf(LlmUpgradeError);
        expect((e as LlmUpgradeError).code).toBe('ERR_INTERRUPTED');
        expect((e as LlmUpgradeError).exitCode).toBe(130);
        interrupted++;
        wasInterrupted = true;
        if (froze) duringFreeze++;
      } finally {
        clearTimeout(timer);
      }
      const stopped = [...statesUnder(inst.root, top)].filter(([, s]) => s === 'T' || s === 't');
      expect(stopped, `run ${i} (${sweeping ? 'sweep' : 'stop'}), abort ${atFreeze ? 'at the first freeze' : `after ${delay} ms`}`).toEqual(
        [],
      );
      // Not interrupted: it finished, and every process of the storm is gone (all threads Z: PID 1 never reaps here).
      if (!wasInterrupted) expect([...statesUnder(inst.root, top)].filter(([, st]) => st !== 'Z' && st !== 'X')).toEqual([]);
      expect(existsSync(join(frozenRecordDir(), `${process.pid}.json`))).toBe(false);
      await kit.cleanup();
    }
    expect(interrupted).toBeGreaterThan(0);
    expect(duringFreeze).toBeGreaterThan(0);
  });
});

describe('kcmp', () => {
  it('tells threads that share one fd table from another process, and says unknown for a pid that does not exist', async () => {
    const inst = await kit.makeSampleInstall({ version: VERSION });
    const other = await kit.spawnTree(inst.engine, ['engine']);
    const compare = fileTableComparer();
    expect(compare).not.toBeNull();
    const ownThreads = readdirSync('/proc/self/task').map(Number);
    expect(ownThreads.length).toBeGreaterThan(1); // Node runs worker threads: they share our table
    for (const tid of ownThreads) expect(compare!(process.pid, tid)).toBe('same');
    expect(compare!(process.pid, other.pid)).toBe('different');
    expect(compare!(process.pid, 0x3fffffff)).toBe('unknown');
  });
});

describe('pidfd', () => {
  it('is available on this kernel and a signal to a pid whose start time does not match is never sent', async () => {
    expect(pidfdApi()).not.toBeNull();
    const inst = await kit.makeSampleInstall({ version: VERSION });
    const tree = await kit.spawnTree(inst.engine, ['engine']);
    const backend = await getBackend();
    const key = (await backend.identityOf(tree.pid))!;
    expect(await backend.signalIfSame!(tree.pid, String(Number(key) + 1), 'SIGSTOP')).toMatchObject({ result: 'gone' });
    await new Promise((r) => setTimeout(r, 50));
    expect(readStat(tree.pid)?.state).not.toBe('T');
    expect(await backend.signalIfSame!(tree.pid, key, 'SIGKILL')).toMatchObject({ result: 'sent' });
    await waitFor(() => !threadsAlive(tree.pid), { what: 'the engine to die' });
  });
});
