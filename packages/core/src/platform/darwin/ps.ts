// `ps` on macOS (BSD ps), run with LC_ALL=C so lstart reads "Tue Nov  4 09:05:01 2025"
// (strftime %c in the C locale: day padded with a space, local time, one-second resolution).
import type { ProcessInfo } from '../../types.js';

export const PS_STAT_ARGS = ['-axww', '-o', 'pid=,ppid=,user=,state=,lstart=,comm='] as const;
export const PS_ARGS_ARGS = ['-axww', '-o', 'pid=,args='] as const;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const LSTART = String.raw`[A-Z][a-z]{2} ([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})`;
const STAT_LINE = new RegExp(String.raw`^\s*(\d+)\s+(\d+)\s+(\S+)\s+(\S+)\s+${LSTART}\s+(.*)$`);

export interface Lstart {
  /** `YYYY-MM-DDTHH:MM:SS` as printed (local time): the identity token. */
  key: string;
  /** Milliseconds since the epoch, reading the fields as local time. */
  ms: number;
}

function lstartFrom(mon: string, day: string, h: string, mi: string, s: string, y: string): Lstart | null {
  const month = MONTHS.indexOf(mon);
  if (month < 0) return null;
  const pad = (v: string) => v.padStart(2, '0');
  return {
    key: `${y}-${pad(String(month + 1))}-${pad(day)}T${h}:${mi}:${s}`,
    ms: new Date(Number(y), month, Number(day), Number(h), Number(mi), Number(s)).getTime(),
  };
}

export function parseLstart(text: string): Lstart | null {
  const m = new RegExp(`^\\s*${LSTART}\\s*$`).exec(text);
  return m ? lstartFrom(m[1] ?? '', m[2] ?? '', m[3] ?? '', m[4] ?? '', m[5] ?? '', m[6] ?? '') : null;
}

export interface PsRow {
  pid: number;
  ppid: number;
  user: string;
  state: string;
  start: Lstart;
  /** argv[0] as the kernel recorded it, or the short p_comm when args are not readable. */
  comm: string;
}

export function parsePsStat(text: string): PsRow[] {
  const rows: PsRow[] = [];
  for (const line of text.split('\n')) {
    const m = STAT_LINE.exec(line);
    if (!m) continue;
    const start = lstartFrom(m[5] ?? '', m[6] ?? '', m[7] ?? '', m[8] ?? '', m[9] ?? '', m[10] ?? '');
    if (!start) continue;
    rows.push({ pid: Number(m[1]), ppid: Number(m[2]), user: m[3] ?? '', state: m[4] ?? '', start, comm: (m[11] ?? '').trimEnd() });
  }
  return rows;
}

/** `pid args` lines; args are space-joined argv, so splitting on spaces is a best effort. */
export function parsePsArgs(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split('\n')) {
    const m = /^\s*(\d+)\s(.*)$/.exec(line);
    if (m) out.set(Number(m[1]), (m[2] ?? '').trim());
  }
  return out;
}

function baseName(p: string): string {
  const i = p.lastIndexOf('/');
  return i >= 0 ? p.slice(i + 1) : p;
}

/**
 * Rows to ProcessInfo. `exeOf` resolves the executable (absolute comm, else the lsof txt entry);
 * a process whose executable stays unknown is returned in `unreadable`.
 */
export function toProcesses(
  rows: readonly PsRow[],
  args: ReadonlyMap<number, string>,
  exeOf: (row: PsRow) => string | null,
): { processes: ProcessInfo[]; unreadable: ProcessInfo[] } {
  const processes: ProcessInfo[] = [];
  const unreadable: ProcessInfo[] = [];
  for (const r of rows) {
    const exe = exeOf(r);
    const argText = args.get(r.pid);
    const info: ProcessInfo = {
      pid: r.pid,
      ppid: r.ppid,
      name: baseName(exe ?? r.comm),
      exe,
      cmdline: argText ? argText.split(' ').filter(Boolean) : [],
      startTime: r.start.ms,
      startKey: r.start.key,
      user: r.user || null,
      state: r.state.charAt(0),
    };
    if (exe === null && r.state.charAt(0) !== 'Z') unreadable.push(info);
    else processes.push(info);
  }
  return { processes, unreadable };
}
