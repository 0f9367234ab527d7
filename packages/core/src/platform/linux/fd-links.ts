// Reads where the fds of one /proc fd directory point. readlinkat(2) on one open directory fd
// walks /proc/PID/fd once per table instead of once per fd: about 1.7× faster than readlinkSync
// per fd over every process here, and the fd links are most of a holder scan. Through koffi (a
// scan loads it anyway for kcmp: the scanner itself is a multi-threaded Node); without it,
// readlinkSync per fd.
import { readlinkSync } from 'node:fs';
import { libcApi } from './libc.js';

/**
 * Calls onTarget with the target of each fd in names that can still be read. Throws an error
 * with code EACCES or EPERM when the table may not be read; an fd or table that is gone
 * (closed, exited) is skipped.
 */
export type ReadFdLinks = (fdDir: string, names: readonly string[], onTarget: (target: string) => void) => void;

// Flags and errnos shared by x86_64 and arm64 (O_DIRECTORY differs, so it is not used).
const O_RDONLY_CLOEXEC = 0o2000000;
const DENIED: Record<number, string> = { 1: 'EPERM', 13: 'EACCES' };
const PATH_MAX = 4096;

const denied = (code: string, path: string) => Object.assign(new Error(`${code}: ${path}`), { code });

const isDenied = (e: unknown) => {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'EACCES' || code === 'EPERM';
};

/** One readlinkSync per fd: the portable way, and the fallback. */
export const readFdLinksEach: ReadFdLinks = (fdDir, names, onTarget) => {
  for (const fd of names) {
    let target: string;
    try {
      target = readlinkSync(`${fdDir}/${fd}`);
    } catch (e) {
      if (isDenied(e)) throw e; // one denied fd means all are
      continue; // closed meanwhile
    }
    onTarget(target);
  }
};

const readFdLinksAt = libcApi<ReadFdLinks>((libc, koffi) => {
  const open = libc.func('int open(const char *, int)') as (path: string, flags: number) => number;
  const readlinkat = libc.func('long readlinkat(int, const char *, uint8_t *, long)') as (
    dirfd: number,
    name: string,
    buf: Buffer,
    size: number,
  ) => number | bigint;
  const close = libc.func('int close(int)') as (fd: number) => number;
  const buf = Buffer.allocUnsafe(PATH_MAX);
  return (fdDir, names, onTarget) => {
    if (names.length === 0) return;
    const dirfd = open(fdDir, O_RDONLY_CLOEXEC);
    if (dirfd < 0) {
      const code = DENIED[koffi.errno()];
      if (code) throw denied(code, fdDir);
      return; // exited
    }
    try {
      for (const fd of names) {
        const n = Number(readlinkat(dirfd, fd, buf, PATH_MAX));
        if (n < 0) {
          const code = DENIED[koffi.errno()];
          if (code) throw denied(code, `${fdDir}/${fd}`);
          continue; // closed meanwhile
        }
        if (n < PATH_MAX) onTarget(buf.toString('utf8', 0, n));
        else readFdLinksEach(fdDir, [fd], onTarget); // may be truncated: ask Node for the whole path
      }
    } finally {
      close(dirfd);
    }
  };
});

/** readlinkat on one directory fd where koffi and libc have it, else readFdLinksEach. */
export function fdLinkReader(): ReadFdLinks {
  return readFdLinksAt() ?? readFdLinksEach;
}
