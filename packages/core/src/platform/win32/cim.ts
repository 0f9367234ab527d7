// Fallback discovery when koffi cannot load: PowerShell's Get-CimInstance Win32_Process as JSON.
// Slower (a PowerShell start is ~0.5-1 s) and creation times are only as precise as the
// serializer: Windows PowerShell 5.1 writes "\/Date(ms)\/" (milliseconds), PowerShell 7 writes
// ISO 8601 with 100 ns ticks, Get-WmiObject's raw CIM_DATETIME is microseconds. startKey values
// from this source carry the prefix `cim:` so they never compare equal to native FILETIME keys.
import { splitCommandLine } from './cmdline.js';
import type { Exec } from '../../exec.js';
import { assembleSnapshot, type WinSnapshot } from './assemble.js';
import { msToFiletime } from './filetime.js';

export const CIM_KEY_PREFIX = 'cim:';

const SELECT = 'ProcessId,ParentProcessId,Name,ExecutablePath,CreationDate,CommandLine';

export function cimProcessScript(pid?: number): string {
  const filter = pid === undefined ? '' : ` -Filter "ProcessId=${Math.trunc(pid)}"`;
  return `[Console]::OutputEncoding=[Text.Encoding]::UTF8; Get-CimInstance Win32_Process${filter} | Select-Object ${SELECT} | ConvertTo-Json -Compress`;
}

/**
 * Milliseconds since the Unix epoch from any CreationDate form PowerShell produces:
 * `/Date(1732498425123)/` (5.1, optionally with a `+0100` suffix that does not change the
 * instant), ISO 8601 with up to 7 fraction digits (7.x), `yyyymmddHHMMSS.ffffff+UUU`
 * (CIM_DATETIME, offset in minutes), or an object whose `value` is one of those.
 */
export function parseCimDate(value: unknown): number | null {
  if (value && typeof value === 'object' && 'value' in value) return parseCimDate((value as { value: unknown }).value);
  if (typeof value !== 'string') return null;
  const ms = /^\/Date\((-?\d+)(?:[+-]\d{4})?\)\/$/.exec(value);
  if (ms) return Number(ms[1]);
  const iso = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})?$/.exec(value);
  if (iso) {
    const [, y, mo, d, h, mi, s, frac = '', zone] = iso;
    const fracMs = Number(`0.${frac || '0'}`) * 1000;
    if (!zone) return new Date(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)).getTime() + Math.floor(fracMs);
    const base = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) + Math.floor(fracMs);
    if (zone === 'Z') return base;
    const sign = zone.startsWith('-') ? -1 : 1;
    const [zh, zm] = zone.slice(1).split(':').map(Number) as [number, number];
    return base - sign * (zh * 60 + zm) * 60_000;
  }
  const dmtf = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})\.(\d{6})([+-])(\d{3})$/.exec(value);
  if (dmtf) {
    const [, y, mo, d, h, mi, s, micro, sign, offset] = dmtf;
    const base = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) + Math.floor(Number(micro) / 1000);
    return base - (sign === '-' ? -1 : 1) * Number(offset) * 60_000;
  }
  return null;
}

interface CimRow {
  ProcessId?: unknown;
  ParentProcessId?: unknown;
  Name?: unknown;
  ExecutablePath?: unknown;
  CreationDate?: unknown;
  CommandLine?: unknown;
}

export type CimSnapshot = WinSnapshot;

/** ConvertTo-Json writes one object (not an array) when there is one process, nothing when none. */
export function parseCimProcesses(json: string, takenAt: number): CimSnapshot {
  const text = json.replace(/^\uFEFF/, '').trim();
  const parsed: unknown = text ? JSON.parse(text) : [];
  const rows = (Array.isArray(parsed) ? parsed : [parsed]) as CimRow[];
  const reads = rows
    .filter((r) => typeof r?.ProcessId === 'number')
    .map((r) => {
      const ms = parseCimDate(r.CreationDate);
      return {
        pid: r.ProcessId as number,
        rawPpid: typeof r.ParentProcessId === 'number' ? r.ParentProcessId : 0,
        name: typeof r.Name === 'string' ? r.Name : '',
        exe: typeof r.ExecutablePath === 'string' && r.ExecutablePath ? r.ExecutablePath : null,
        cmdline: typeof r.CommandLine === 'string' ? splitCommandLine(r.CommandLine) : [],
        ms,
      };
    });
  return assembleSnapshot(
    reads.map((r) => ({
      ...r,
      creation: r.ms === null ? null : msToFiletime(r.ms),
      startKey: r.ms === null ? '' : `${CIM_KEY_PREFIX}${r.ms}`,
      readable: r.exe !== null && r.ms !== null,
    })),
    takenAt,
  );
}

const POWERSHELLS = ['powershell.exe', 'pwsh.exe'];

/** Runs the CIM query with the first PowerShell that exists; null when none answers. */
export async function queryCimProcesses(exec: Exec, pid?: number, now: () => number = Date.now): Promise<CimSnapshot | null> {
  for (const ps of POWERSHELLS) {
    const takenAt = now();
    const r = await exec(ps, ['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-Command', cimProcessScript(pid)], {
      timeoutMs: 60_000,
    });
    if (r.error === 'ENOENT') continue;
    if (r.code !== 0) return null;
    try {
      return parseCimProcesses(r.stdout, takenAt);
    } catch {
      return null;
    }
  }
  return null;
}
