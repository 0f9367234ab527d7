// `lsof -F` field output: one field per line, the first character names it. A `p` line starts a
// process, an `f` line starts a file of that process. We ask for p c f t n.
//   f: cwd, rtd (root directory), txt (program text: the executable and, on macOS, every mapped
//      file), mem (mapped, Linux lsof), or a descriptor number (0, 1, 3u… mode is a separate field).
//   t: REG, DIR, CHR, PIPE, unix, IPv4, KQUEUE…   n: the path (or a description).
export const LSOF_FIELDS = 'pcftn';

export interface LsofFile {
  fd: string;
  type: string;
  name: string;
}

export interface LsofProcess {
  pid: number;
  command: string;
  files: LsofFile[];
}

export function parseLsof(text: string): LsofProcess[] {
  const out: LsofProcess[] = [];
  let proc: LsofProcess | null = null;
  let file: LsofFile | null = null;
  for (const line of text.split('\n')) {
    if (!line) continue;
    const tag = line.charAt(0);
    const value = line.slice(1);
    if (tag === 'p') {
      proc = { pid: Number(value), command: '', files: [] };
      file = null;
      out.push(proc);
    } else if (!proc) {
    } else if (tag === 'c' && !file) {
      proc.command = value;
    } else if (tag === 'f') {
      file = { fd: value, type: '', name: '' };
      proc.files.push(file);
    } else if (tag === 't' && file) {
      file.type = value;
    } else if (tag === 'n' && file) {
      file.name = value;
    }
  }
  return out;
}

export type LsofKind = 'exe' | 'fd' | 'map' | 'cwd' | 'root';

/** What a file entry means for holders; null when it is not a file on disk (pipes, sockets). */
export function kindOf(file: LsofFile, exe: string | null): LsofKind | null {
  if (file.fd === 'cwd') return 'cwd';
  if (file.fd === 'rtd') return 'root';
  if (file.fd === 'txt') return exe !== null && file.name === exe ? 'exe' : 'map';
  if (file.fd === 'mem' || file.fd === 'DEL') return 'map';
  if (/^\d+/.test(file.fd) && (file.type === 'REG' || file.type === 'DIR')) return 'fd';
  return null;
}

/** The executable of each process: its first `txt` entry, which lsof lists before the mapped libraries. */
export function executables(procs: readonly LsofProcess[]): Map<number, string> {
  const out = new Map<number, string>();
  for (const p of procs) {
    const txt = p.files.find((f) => f.fd === 'txt' && f.type === 'REG' && f.name.startsWith('/'));
    if (txt) out.set(p.pid, txt.name);
  }
  return out;
}
