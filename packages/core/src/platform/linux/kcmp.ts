// Whether two tasks share one fd table, by identity: kcmp(pid1, pid2, KCMP_FILES, 0, 0) is 0
// exactly when both point at the same `files_struct`. A count or a list of fd numbers cannot
// tell: a thread that ran unshare(CLONE_FILES) and dup2()'d another file onto a number it
// already had keeps both. koffi is loaded the first time a multi-threaded process is checked;
// without koffi, the syscall (ENOSYS, seccomp) or the right to compare (EPERM: needs
// ptrace-read access), the answer is 'unknown' and callers read that task's table itself.
import { libcApi } from './libc.js';

const NR_KCMP = { x64: 312, arm64: 272 } as const;
const KCMP_FILES = 2;

export type FileTableMatch = 'same' | 'different' | 'unknown';

/** Compares the fd tables of two tasks (thread ids or pids). */
export type CompareFileTables = (tid1: number, tid2: number) => FileTableMatch;

/** The comparison, or null when koffi, libc or the kernel lacks kcmp (checked once, on our own pid). */
export const fileTableComparer = libcApi<CompareFileTables>((libc) => {
  const nr = NR_KCMP[process.arch as keyof typeof NR_KCMP];
  if (!nr) return null;
  const syscall = libc.func('long syscall(long, long, long, long, long, long)') as (...args: number[]) => number | bigint;
  const compare: CompareFileTables = (tid1, tid2) => {
    const r = Number(syscall(nr, tid1, tid2, KCMP_FILES, 0, 0));
    if (r === 0) return 'same';
    return r > 0 ? 'different' : 'unknown'; // 1 and 2 order two different tables; -1: errno
  };
  return compare(process.pid, process.pid) === 'same' ? compare : null; // else ENOSYS or a seccomp filter
});
