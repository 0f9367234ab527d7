// libc through koffi, for the few syscalls Node has no API for (pidfd, kcmp, readlinkat,
// prctl). Each user builds its functions once, on first use, so a command that needs none
// never loads koffi; any failure (no koffi, no libc.so.6, a syscall the kernel or a seccomp
// filter refuses in the self-test) means null, and the caller takes its fallback.
import { type Koffi, loadKoffi } from '../win32/koffi-loader.js';

export type KoffiLib = ReturnType<Koffi['load']>;

let lib: KoffiLib | null | undefined;

function libcOnce(koffi: Koffi): KoffiLib | null {
  if (lib !== undefined) return lib;
  try {
    lib = koffi.load('libc.so.6');
  } catch {
    lib = null;
  }
  return lib;
}

/**
 * A function that builds `T` from koffi and libc the first time it is called and returns the
 * same value (or null) ever after. `build` returns null, or throws, when the API is not usable here.
 */
export function libcApi<T>(build: (libc: KoffiLib, koffi: Koffi) => T | null): () => T | null {
  let built: T | null | undefined;
  return () => {
    if (built !== undefined) return built;
    built = null;
    const koffi = loadKoffi();
    const libc = koffi ? libcOnce(koffi) : null;
    if (!koffi || !libc) return null;
    try {
      built = build(libc, koffi);
    } catch {
      built = null;
    }
    return built;
  };
}
