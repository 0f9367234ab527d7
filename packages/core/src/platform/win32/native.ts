// koffi bindings for kernel32 / ntdll / rstrtmgr, wrapped as a WinApi. Structures are passed as
// raw Buffers and decoded in layout.ts. Win32 BOOL is a 4-byte int, so it is declared `int`
// (koffi's `bool` is the 1-byte C type). koffi keeps GetLastError() intact between calls.
import type { Koffi } from './koffi-loader.js';
import { loadKoffi } from './koffi-loader.js';
import { decodeProcessEntry, decodeRmProcessInfo, newProcessEntryBuffer, RM_PROCESS_INFO, RM_SESSION_KEY_BYTES } from './layout.js';
import {
  ERROR_SUCCESS,
  type OpenResult,
  type ProcessHandle,
  type RestartManagerApi,
  type RmListResult,
  type ToolhelpRow,
  type WinApi,
} from './winapi.js';

type Fn = (...args: unknown[]) => unknown;
type Ptr = bigint | null;

const TH32CS_SNAPPROCESS = 0x2;
const WAIT_OBJECT_0 = 0;
const PROCESS_COMMAND_LINE_INFORMATION = 60;
const STATUS_INFO_LENGTH_MISMATCH = 0xc0000004 | 0;
const UNICODE_STRING_SIZE = 16;
const PROCESS_BASIC_INFORMATION_CLASS = 0;
const PROCESS_VM_READ = 0x0010;
const PROCESS_QUERY_INFORMATION = 0x0400;
// x64: PROCESS_BASIC_INFORMATION.PebBaseAddress, PEB.ProcessParameters,
// RTL_USER_PROCESS_PARAMETERS.CommandLine (UNICODE_STRING: Length, MaximumLength, pad, Buffer).
const PBI_PEB = 8;
const PEB_PROCESS_PARAMETERS = 0x20;
const PARAMS_COMMAND_LINE = 0x70;

function isInvalid(h: unknown): boolean {
  return h === null || h === undefined || h === 0n || h === 0 || h === -1n || h === 0xffff_ffff_ffff_ffffn;
}

interface Kernel32 {
  CreateToolhelp32Snapshot: Fn;
  Process32FirstW: Fn;
  Process32NextW: Fn;
  OpenProcess: Fn;
  QueryFullProcessImageNameW: Fn;
  GetProcessTimes: Fn;
  TerminateProcess: Fn;
  WaitForSingleObject: Fn;
  CloseHandle: Fn;
  GetLastError: Fn;
  ReadProcessMemory: Fn;
}

function bindKernel32(koffi: Koffi): Kernel32 {
  const k = koffi.load('kernel32.dll');
  return {
    CreateToolhelp32Snapshot: k.func('void *CreateToolhelp32Snapshot(uint32_t dwFlags, uint32_t th32ProcessID)') as Fn,
    Process32FirstW: k.func('int Process32FirstW(void *hSnapshot, void *lppe)') as Fn,
    Process32NextW: k.func('int Process32NextW(void *hSnapshot, void *lppe)') as Fn,
    OpenProcess: k.func('void *OpenProcess(uint32_t dwDesiredAccess, int bInheritHandle, uint32_t dwProcessId)') as Fn,
    QueryFullProcessImageNameW: k.func(
      'int QueryFullProcessImageNameW(void *hProcess, uint32_t dwFlags, void *lpExeName, void *lpdwSize)',
    ) as Fn,
    GetProcessTimes: k.func(
      'int GetProcessTimes(void *hProcess, void *lpCreationTime, void *lpExitTime, void *lpKernelTime, void *lpUserTime)',
    ) as Fn,
    TerminateProcess: k.func('int TerminateProcess(void *hProcess, uint32_t uExitCode)') as Fn,
    WaitForSingleObject: k.func('uint32_t WaitForSingleObject(void *hHandle, uint32_t dwMilliseconds)') as Fn,
    CloseHandle: k.func('int CloseHandle(void *hObject)') as Fn,
    GetLastError: k.func('uint32_t GetLastError()') as Fn,
    ReadProcessMemory: k.func(
      'int ReadProcessMemory(void *hProcess, void *lpBaseAddress, void *lpBuffer, size_t nSize, void *lpNumberOfBytesRead)',
    ) as Fn,
  };
}

function bindNtQueryInformationProcess(koffi: Koffi): Fn | null {
  try {
    return koffi
      .load('ntdll.dll')
      .func(
        'int32_t NtQueryInformationProcess(void *ProcessHandle, int ProcessInformationClass, void *ProcessInformation, uint32_t ProcessInformationLength, void *ReturnLength)',
      ) as Fn;
  } catch {
    return null;
  }
}

class NativeProcessHandle implements ProcessHandle {
  private open = true;
  constructor(
    readonly pid: number,
    private readonly h: Ptr,
    private readonly k: Kernel32,
    private readonly ntQuery: Fn | null,
    private readonly koffi: Koffi,
  ) {}

  creationTime(): bigint | null {
    const c = Buffer.alloc(8),
      e = Buffer.alloc(8),
      kt = Buffer.alloc(8),
      u = Buffer.alloc(8);
    if (!this.k.GetProcessTimes(this.h, c, e, kt, u)) return null;
    return c.readBigUInt64LE(0);
  }

  imagePath(): string | null {
    const chars = 32_768;
    const buf = Buffer.alloc(chars * 2);
    const size = Buffer.alloc(4);
    size.writeUInt32LE(chars, 0);
    if (!this.k.QueryFullProcessImageNameW(this.h, 0, buf, size)) return null;
    return buf.toString('utf16le', 0, size.readUInt32LE(0) * 2);
  }

  commandLine(): string | null {
    return this.commandLineByClass() ?? this.commandLineFromPeb();
  }

  /**
   * Reading RTL_USER_PROCESS_PARAMETERS.CommandLine out of the target's PEB: for Windows before
   * 8.1 and Wine 8, which lack ProcessCommandLineInformation. Needs PROCESS_VM_READ, so it only
   * works for processes of the same user (or elevated).
   */
  private commandLineFromPeb(): string | null {
    if (!this.ntQuery) return null;
    const h = this.k.OpenProcess(PROCESS_QUERY_INFORMATION | PROCESS_VM_READ, 0, this.pid) as Ptr;
    if (isInvalid(h)) return null;
    try {
      const pbi = Buffer.alloc(48);
      if (Number(this.ntQuery(h, PROCESS_BASIC_INFORMATION_CLASS, pbi, pbi.length, null)) < 0) return null;
      const read = (address: bigint, size: number): Buffer | null => {
        const buf = Buffer.alloc(size);
        return this.k.ReadProcessMemory(h, address, buf, size, null) ? buf : null;
      };
      const peb = pbi.readBigUInt64LE(PBI_PEB);
      const paramsPtr = peb ? read(peb + BigInt(PEB_PROCESS_PARAMETERS), 8)?.readBigUInt64LE(0) : undefined;
      const us = paramsPtr ? read(paramsPtr + BigInt(PARAMS_COMMAND_LINE), 16) : null;
      if (!us) return null;
      const bytes = us.readUInt16LE(0);
      const text = bytes ? read(us.readBigUInt64LE(8), bytes) : null;
      return text ? text.toString('utf16le') : null;
    } catch {
      return null;
    } finally {
      this.k.CloseHandle(h);
    }
  }

  private commandLineByClass(): string | null {
    if (!this.ntQuery) return null;
    let length = 4096;
    for (let attempt = 0; attempt < 3; attempt++) {
      const buf = Buffer.alloc(length);
      const ret = Buffer.alloc(4);
      const status = Number(this.ntQuery(this.h, PROCESS_COMMAND_LINE_INFORMATION, buf, length, ret));
      if (status === STATUS_INFO_LENGTH_MISMATCH || (status < 0 && ret.readUInt32LE(0) > length)) {
        length = Math.max(ret.readUInt32LE(0), length * 2);
        continue;
      }
      if (status < 0) return null;
      // UNICODE_STRING { USHORT Length; USHORT MaximumLength; PWSTR Buffer } followed by the text;
      // Buffer points into our buffer, so its offset is Buffer - address(buf).
      const bytes = buf.readUInt16LE(0);
      let offset = UNICODE_STRING_SIZE;
      try {
        const delta = Number(buf.readBigUInt64LE(8) - BigInt(this.koffi.address(buf)));
        if (delta >= UNICODE_STRING_SIZE && delta + bytes <= buf.length) offset = delta;
      } catch {
        // koffi.address unavailable: the text follows the header on every Windows version seen.
      }
      return buf.toString('utf16le', offset, offset + bytes);
    }
    return null;
  }

  terminate(exitCode: number): number {
    return this.k.TerminateProcess(this.h, exitCode) ? ERROR_SUCCESS : Number(this.k.GetLastError());
  }

  waitForExit(timeoutMs: number): boolean {
    return Number(this.k.WaitForSingleObject(this.h, Math.max(0, Math.floor(timeoutMs)))) === WAIT_OBJECT_0;
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.k.CloseHandle(this.h);
  }
}

function bindRestartManager(koffi: Koffi): RestartManagerApi | null {
  let rm;
  try {
    rm = koffi.load('rstrtmgr.dll');
  } catch {
    return null;
  }
  const RmStartSession = rm.func('uint32_t RmStartSession(void *pSessionHandle, uint32_t dwSessionFlags, void *strSessionKey)') as Fn;
  const RmRegisterResources = rm.func(
    'uint32_t RmRegisterResources(uint32_t dwSessionHandle, uint32_t nFiles, const char16_t **rgsFileNames, uint32_t nApplications, void *rgApplications, uint32_t nServices, void *rgsServiceNames)',
  ) as Fn;
  const RmGetList = rm.func(
    'uint32_t RmGetList(uint32_t dwSessionHandle, void *pnProcInfoNeeded, void *pnProcInfo, void *rgAffectedApps, void *lpdwRebootReasons)',
  ) as Fn;
  const RmEndSession = rm.func('uint32_t RmEndSession(uint32_t dwSessionHandle)') as Fn;
  return {
    startSession() {
      const session = Buffer.alloc(4);
      const key = Buffer.alloc(RM_SESSION_KEY_BYTES);
      const error = Number(RmStartSession(session, 0, key));
      return { error, session: session.readUInt32LE(0) };
    },
    registerFiles(session, files) {
      return Number(RmRegisterResources(session, files.length, [...files, null], 0, null, 0, null));
    },
    getList(session, capacity): RmListResult {
      const needed = Buffer.alloc(4);
      const count = Buffer.alloc(4);
      count.writeUInt32LE(capacity, 0);
      const infos = Buffer.alloc(Math.max(1, capacity) * RM_PROCESS_INFO.size);
      const reasons = Buffer.alloc(4);
      const error = Number(RmGetList(session, needed, count, capacity > 0 ? infos : null, reasons));
      const n = error === ERROR_SUCCESS ? Math.min(count.readUInt32LE(0), capacity) : 0;
      const processes = Array.from({ length: n }, (_, i) => decodeRmProcessInfo(infos, i));
      return { error, needed: needed.readUInt32LE(0), processes };
    },
    endSession(session) {
      return Number(RmEndSession(session));
    },
  };
}

/** The real WinApi, or null when koffi or kernel32 is not available (not Windows, or no addon). */
export function createNativeWinApi(koffi: Koffi | null = loadKoffi()): WinApi | null {
  if (!koffi) return null;
  let k: Kernel32;
  try {
    k = bindKernel32(koffi);
  } catch {
    return null;
  }
  const ntQuery = bindNtQueryInformationProcess(koffi);
  return {
    listProcesses(): ToolhelpRow[] | null {
      const snap = k.CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0) as Ptr;
      if (isInvalid(snap)) return null;
      try {
        const rows: ToolhelpRow[] = [];
        const entry = newProcessEntryBuffer();
        for (let ok = k.Process32FirstW(snap, entry); ok; ok = k.Process32NextW(snap, entry)) {
          rows.push(decodeProcessEntry(entry));
        }
        return rows;
      } finally {
        k.CloseHandle(snap);
      }
    },
    openProcess(pid: number, access: number): OpenResult {
      const h = k.OpenProcess(access, 0, pid) as Ptr;
      if (isInvalid(h)) return { ok: false, error: Number(k.GetLastError()) };
      return { ok: true, handle: new NativeProcessHandle(pid, h, k, ntQuery, koffi) };
    },
    restartManager: bindRestartManager(koffi),
  };
}
