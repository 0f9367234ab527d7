// The shared stop algorithm against a scripted, in-memory OS: ordering (services, supervisors,
// servers, engines), permission-denied survivors, foreign holders, and what ok means. Real
// processes are exercised in test/*.test.ts; these cases cannot be produced reliably there
// (EPERM on an in-scope process needs an LSM; systemd is not running in CI containers).
import { describe, expect, it } from 'vitest';
import type { ForceKillContext, PlatformBackend, SignalOutcome } from './platform/backend.js';
import { ollamaProfile } from './profile.js';
import { terminate } from './terminate.js';
import type { Holder, ProcessInfo, ScopedProcess, ServiceRef, Snapshot } from './types.js';

interface FakeProc extends ProcessInfo {
  ignoresTerm?: boolean;
  /** The polite request fails outright (Windows console programs: taskkill without /F). */
  termFails?: boolean;
  denied?: boolean;
  service?: string;
}

class ScriptedOs implements PlatformBackend {
  readonly os = 'linux' as const;
  readonly log: string[] = [];
  readonly procs = new Map<number, FakeProc>();
  foreignHolders: Omit<Holder, 'inScope'>[] = [];

  add(pid: number, ppid: number, exe: string, extra: Partial<FakeProc> = {}): void {
    this.procs.set(pid, {
      pid,
      ppid,
      name: exe.slice(exe.lastIndexOf('/') + 1),
      exe,
      cmdline: [exe],
      startTime: 0,
      startKey: `k${pid}`,
      user: 'u',
      state: 'S',
      ...extra,
    });
  }
  pathKey(p: string): string {
    return p;
  }
  async snapshot(): Promise<Snapshot> {
    return { processes: [...this.procs.values()].map((p) => ({ ...p })), unreadable: [], takenAt: 0 };
  }
  async identityOf(pid: number): Promise<string | null> {
    return this.procs.get(pid)?.startKey ?? null;
  }
  async findServices(processes: ScopedProcess[], names: string[]): Promise<ServiceRef[]> {
    const units = new Map<string, number[]>();
    for (const p of processes) {
      const unit = this.procs.get(p.pid)?.service;
      if (unit && names.includes(unit)) units.set(unit, [...(units.get(unit) ?? []), p.pid]);
    }
    return [...units].map(([name, pids]) => ({ manager: 'systemd', name, scope: 'system', pids }));
  }
  async stopService(service: ServiceRef): Promise<void> {
    this.log.push(`service ${service.name}`);
    for (const [pid, p] of this.procs) if (p.service === service.name) this.procs.delete(pid);
  }
  async startService(service: ServiceRef): Promise<{ mainPid: number | null }> {
    this.log.push(`start service ${service.name}`);
    return { mainPid: null };
  }
  async serviceState(): Promise<null> {
    return null;
  }
  async resume(pid: number): Promise<SignalOutcome> {
    return { pid, result: this.procs.has(pid) ? 'sent' : 'gone' };
  }
  async requestExit(targets: ScopedProcess[]): Promise<SignalOutcome[]> {
    return targets.map((t) => {
      const p = this.procs.get(t.pid);
      this.log.push(`term ${t.role} ${t.pid}`);
      if (!p) return { pid: t.pid, result: 'gone' };
      if (p.denied) return { pid: t.pid, result: 'denied', detail: `EPERM: not allowed to send SIGTERM to pid ${t.pid}` };
      if (p.termFails) return { pid: t.pid, result: 'failed', detail: 'can only be terminated forcefully' };
      if (!p.ignoresTerm) this.procs.delete(t.pid);
      return { pid: t.pid, result: 'sent' };
    });
  }
  async forceKill(targets: ScopedProcess[], ctx: ForceKillContext): Promise<SignalOutcome[]> {
    const all = new Map(targets.map((t) => [t.pid, t]));
    for (const t of await ctx.rescan()) all.set(t.pid, t);
    return [...all.values()].map((t) => {
      this.log.push(`kill ${t.pid}`);
      const p = this.procs.get(t.pid);
      if (!p) return { pid: t.pid, result: 'gone', process: t };
      if (p.denied) return { pid: t.pid, result: 'denied', detail: `EPERM: not allowed to send SIGKILL to pid ${t.pid}`, process: t };
      this.procs.delete(t.pid);
      return { pid: t.pid, result: 'sent', process: t };
    });
  }
  async scanHolders(): Promise<{ holders: Omit<Holder, 'inScope'>[]; unknown: ProcessInfo[] }> {
    const own = [...this.procs.values()]
      .filter((p) => p.exe?.startsWith('/opt/ollama/'))
      .map((p) => ({ pid: p.pid, name: p.name, exe: p.exe, path: p.exe ?? '', kind: 'exe' as const }));
    return { holders: [...own, ...this.foreignHolders], unknown: [] };
  }
  async gpuUsage() {
    return [];
  }
}

const root = '/opt/ollama';

function install(): ScriptedOs {
  const os = new ScriptedOs();
  os.add(1, 0, '/sbin/init');
  os.add(10, 1, `${root}/ollama app`);
  os.add(11, 10, `${root}/bin/ollama`, { cmdline: [`${root}/bin/ollama`, 'serve'] });
  os.add(12, 11, `${root}/lib/ollama/llama-server`, { ignoresTerm: true });
  os.add(13, 1, `${root}/lib/ollama/llama-server`); // orphan
  return os;
}

describe('terminate (scripted OS)', () => {
  it('asks supervisors, then servers, then engines; forces what ignored it', async () => {
    const os = install();
    const r = await terminate({ roots: [root], profile: ollamaProfile, graceMs: 50, timeoutMs: 2000 }, 'stop', os);
    const terms = os.log.filter((l) => l.startsWith('term')).map((l) => l.split(' ')[1]);
    expect(terms).toEqual(['supervisor', 'server', 'engine', 'engine']);
    expect(os.log).toContain('kill 12');
    expect(r.ok).toBe(true);
    expect(Object.fromEntries(r.stopped.map((p) => [p.pid, p.how]))).toEqual({
      10: 'terminated',
      11: 'terminated',
      12: 'killed',
      13: 'terminated',
    });
  });

  it("stops the profile's service through its manager before any signal", async () => {
    const os = install();
    os.add(20, 1, `${root}/bin/ollama`, { service: 'ollama', cmdline: [`${root}/bin/ollama`, 'serve'] });
    const r = await terminate({ roots: [root], profile: ollamaProfile, graceMs: 50, timeoutMs: 2000 }, 'stop', os);
    expect(os.log[0]).toBe('service ollama');
    expect(r.services.map((s) => s.name)).toEqual(['ollama']);
    expect(r.stopped.find((p) => p.pid === 20)?.how).toBe('terminated');
    const skipped = install();
    skipped.add(20, 1, `${root}/bin/ollama`, { service: 'ollama' });
    await terminate({ roots: [root], profile: ollamaProfile, graceMs: 50, timeoutMs: 2000, skipServices: true }, 'stop', skipped);
    expect(skipped.log).not.toContain('service ollama');
  });

  it('reports a process it may not signal as a survivor, with why, and returns ok:false', async () => {
    const os = install();
    os.add(30, 1, `${root}/lib/ollama/llama-server`, { denied: true });
    const r = await terminate({ roots: [root], profile: ollamaProfile, graceMs: 50, timeoutMs: 1000 }, 'stop', os);
    expect(r.ok).toBe(false);
    expect(r.survivors).toEqual([expect.objectContaining({ pid: 30, why: expect.stringContaining('EPERM') })]);
    expect(r.stopped.map((p) => p.pid).sort()).toEqual([10, 11, 12, 13]);
  });

  it('forces a process whose polite request failed (not only those that ignored it)', async () => {
    const os = install();
    os.add(31, 1, `${root}/lib/ollama/llama-server`, { termFails: true });
    const r = await terminate({ roots: [root], profile: ollamaProfile, graceMs: 50, timeoutMs: 2000 }, 'stop', os);
    expect(os.log).toContain('kill 31');
    expect(r.ok).toBe(true);
    expect(r.stopped.find((p) => p.pid === 31)?.how).toBe('killed');
  });

  it('waits for a foreign holder until the deadline, never signals it, and fails', async () => {
    const os = install();
    os.add(40, 1, '/usr/bin/backup');
    os.foreignHolders = [{ pid: 40, name: 'backup', exe: '/usr/bin/backup', path: `${root}/lib/ollama/libggml.so`, kind: 'fd' }];
    const r = await terminate({ roots: [root], profile: ollamaProfile, graceMs: 20, timeoutMs: 400 }, 'stop', os);
    expect(r.ok).toBe(false);
    expect(r.survivors).toEqual([]);
    expect(r.holders).toEqual([expect.objectContaining({ pid: 40, inScope: false, kind: 'fd' })]);
    expect(os.log.some((l) => l.endsWith(' 40'))).toBe(false);
    os.foreignHolders = [{ pid: 40, name: 'backup', exe: '/usr/bin/backup', path: root, kind: 'cwd' }];
    os.add(10, 1, `${root}/ollama app`);
    const cwdOnly = await terminate({ roots: [root], profile: ollamaProfile, graceMs: 20, timeoutMs: 400 }, 'stop', os);
    expect(cwdOnly.ok).toBe(true);
    expect(cwdOnly.warnings).toEqual([expect.stringContaining('pid 40')]);
  });

  it('protectPids are never signalled and are reported as survivors', async () => {
    const os = install();
    const r = await terminate({ roots: [root], profile: ollamaProfile, graceMs: 20, timeoutMs: 300, protectPids: [13] }, 'stop', os);
    expect(os.log.some((l) => l.endsWith(' 13'))).toBe(false);
    expect(r.survivors).toEqual([expect.objectContaining({ pid: 13, why: expect.stringContaining('protected') })]);
    expect(r.ok).toBe(false);
  });

  it('sweep touches only orphans and their subtrees', async () => {
    const os = install();
    os.add(14, 13, `${root}/lib/ollama/llama-server`);
    const r = await terminate({ roots: [root], profile: ollamaProfile, graceMs: 20, timeoutMs: 1000, skipServices: true }, 'sweep', os);
    expect(r.stopped.map((p) => p.pid).sort()).toEqual([13, 14]);
    expect([10, 11, 12].every((pid) => os.procs.has(pid))).toBe(true);
  });

  it('dry run only plans', async () => {
    const os = install();
    const r = await terminate({ roots: [root], profile: ollamaProfile, dryRun: true }, 'stop', os);
    expect(r.plan.map((p) => p.pid).sort()).toEqual([10, 11, 12, 13]);
    expect(os.log).toEqual([]);
    expect(os.procs.size).toBe(5);
  });
});
