import { describe, expect, it } from 'vitest';
import { libcApi } from './libc.js';

// libc.so.6 and /proc exist on Linux only; the other backends' FFI is tested where it runs (win32 under Wine).
describe.skipIf(process.platform !== 'linux')('libcApi (Linux: libc.so.6)', () => {
  it('builds once, from the real libc, and returns the same value ever after', () => {
    let builds = 0;
    const getpid = libcApi((libc) => {
      builds++;
      return libc.func('int getpid()') as () => number;
    });
    expect(getpid()?.()).toBe(process.pid);
    expect(getpid()).toBe(getpid());
    expect(builds).toBe(1);
  });

  it('a builder that refuses (null) or throws gives null, once', () => {
    let calls = 0;
    const refused = libcApi(() => {
      calls++;
      return null;
    });
    const broken = libcApi((libc) => {
      calls++;
      return libc.func('int no_such_function_in_libc()');
    });
    expect(refused()).toBeNull();
    expect(broken()).toBeNull();
    expect(refused()).toBeNull();
    expect(broken()).toBeNull();
    expect(calls).toBe(2);
  });
});
