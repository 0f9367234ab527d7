/** 100 ns intervals between 1601-01-01 (FILETIME epoch) and 1970-01-01 (Unix epoch). */
export const FILETIME_UNIX_EPOCH = 116_444_736_000_000_000n;

export function filetimeToMs(filetime: bigint): number {
  return Number((filetime - FILETIME_UNIX_EPOCH) / 10_000n);
}

export function msToFiletime(ms: number): bigint {
  return BigInt(Math.round(ms)) * 10_000n + FILETIME_UNIX_EPOCH;
}

/** FILETIME from its two DWORD halves (RM_UNIQUE_PROCESS, GetProcessTimes). */
export function filetimeFromParts(low: number, high: number): bigint {
  return (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0);
}
