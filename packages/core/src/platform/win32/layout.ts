// Byte layouts of the Win32 structures we read through koffi, for x64. We pass raw Buffers and
// decode them here instead of declaring koffi structs, so the offsets are explicit and tested.
// The numbers were checked against mingw-w64's headers with probe/winproc-probe.c (`layout`).
import type { RmProcessInfo, ToolhelpRow } from './winapi.js';
import { filetimeFromParts } from './filetime.js';

const MAX_PATH = 260;

/** PROCESSENTRY32W: dwSize, cntUsage, th32ProcessID, [pad], th32DefaultHeapID (ULONG_PTR), ... */
export const PROCESSENTRY32W = {
  size: 568,
  th32ProcessID: 8,
  th32DefaultHeapID: 16,
  cntThreads: 28,
  th32ParentProcessID: 32,
  szExeFile: 44,
  szExeFileChars: MAX_PATH,
} as const;

/** RM_UNIQUE_PROCESS (12 bytes) + WCHAR[256] + WCHAR[64] + RM_APP_TYPE + ULONG + DWORD + BOOL. */
export const RM_PROCESS_INFO = {
  size: 668,
  dwProcessId: 0,
  startTimeLow: 4,
  startTimeHigh: 8,
  strAppName: 12,
  strAppNameChars: 256,
  strServiceShortName: 524,
  strServiceShortNameChars: 64,
  ApplicationType: 652,
} as const;

/** CCH_RM_SESSION_KEY + 1 WCHARs for RmStartSession's key buffer. */
export const RM_SESSION_KEY_BYTES = (32 + 1) * 2;

/** UTF-16LE, stopping at the first NUL. */
export function readWideString(buf: Buffer, offset: number, maxChars: number): string {
  const end = Math.min(buf.length, offset + maxChars * 2);
  let stop = offset;
  while (stop + 1 < end && (buf[stop] !== 0 || buf[stop + 1] !== 0)) stop += 2;
  return buf.toString('utf16le', offset, stop);
}

/** A zeroed PROCESSENTRY32W with dwSize set, as Process32FirstW requires. */
export function newProcessEntryBuffer(): Buffer {
  const buf = Buffer.alloc(PROCESSENTRY32W.size);
  buf.writeUInt32LE(PROCESSENTRY32W.size, 0);
  return buf;
}

export function decodeProcessEntry(buf: Buffer): ToolhelpRow {
  return {
    pid: buf.readUInt32LE(PROCESSENTRY32W.th32ProcessID),
    ppid: buf.readUInt32LE(PROCESSENTRY32W.th32ParentProcessID),
    exeFile: readWideString(buf, PROCESSENTRY32W.szExeFile, PROCESSENTRY32W.szExeFileChars),
  };
}

export function decodeRmProcessInfo(buf: Buffer, index: number): RmProcessInfo {
  const base = index * RM_PROCESS_INFO.size;
  const low = buf.readUInt32LE(base + RM_PROCESS_INFO.startTimeLow);
  const high = buf.readUInt32LE(base + RM_PROCESS_INFO.startTimeHigh);
  return {
    pid: buf.readUInt32LE(base + RM_PROCESS_INFO.dwProcessId),
    startKey: filetimeFromParts(low, high).toString(),
    appName: readWideString(buf, base + RM_PROCESS_INFO.strAppName, RM_PROCESS_INFO.strAppNameChars),
    serviceShortName: readWideString(buf, base + RM_PROCESS_INFO.strServiceShortName, RM_PROCESS_INFO.strServiceShortNameChars),
    appType: buf.readInt32LE(base + RM_PROCESS_INFO.ApplicationType),
  };
}

/** Test helper and documentation in one: writes a row the way Windows lays it out. */
export function encodeProcessEntry(row: ToolhelpRow): Buffer {
  const buf = newProcessEntryBuffer();
  buf.writeUInt32LE(row.pid, PROCESSENTRY32W.th32ProcessID);
  buf.writeUInt32LE(row.ppid, PROCESSENTRY32W.th32ParentProcessID);
  buf.write(row.exeFile.slice(0, MAX_PATH - 1), PROCESSENTRY32W.szExeFile, 'utf16le');
  return buf;
}

export function encodeRmProcessInfo(info: RmProcessInfo, buf: Buffer, index: number): void {
  const base = index * RM_PROCESS_INFO.size;
  const ft = BigInt(info.startKey);
  buf.writeUInt32LE(info.pid, base + RM_PROCESS_INFO.dwProcessId);
  buf.writeUInt32LE(Number(ft & 0xffff_ffffn), base + RM_PROCESS_INFO.startTimeLow);
  buf.writeUInt32LE(Number(ft >> 32n), base + RM_PROCESS_INFO.startTimeHigh);
  buf.write(info.appName.slice(0, 255), base + RM_PROCESS_INFO.strAppName, 'utf16le');
  buf.write(info.serviceShortName.slice(0, 63), base + RM_PROCESS_INFO.strServiceShortName, 'utf16le');
  buf.writeInt32LE(info.appType, base + RM_PROCESS_INFO.ApplicationType);
}
