// The slice of the Win32 API the backend uses, as an interface: production wires it to koffi
// (native.ts), tests to fakes that model the real semantics (PID reuse, access denied, stale ppid).

export const ERROR_SUCCESS = 0;
export const ERROR_ACCESS_DENIED = 5;
export const ERROR_INVALID_PARAMETER = 87;
export const ERROR_MORE_DATA = 234;

export const PROCESS_TERMINATE = 0x0001;
export const PROCESS_QUERY_LIMITED_INFORMATION = 0x1000;
export const SYNCHRONIZE = 0x0010_0000;

/** One PROCESSENTRY32W as Process32FirstW/NextW return it. */
export interface ToolhelpRow {
  pid: number;
  /** th32ParentProcessID: the creator's pid at creation time, never updated (may be dead or reused). */
  ppid: number;
  /** szExeFile: image name without directory. */
  exeFile: string;
}

/**
 * An open process handle. While it is open the process object stays alive, so its PID cannot be
 * reused: a creation time checked through it stays true until close().
 */
export interface ProcessHandle {
  readonly pid: number;
  /** Creation FILETIME (100 ns since 1601, UTC) or null when GetProcessTimes fails. */
  creationTime(): bigint | null;
  /** QueryFullProcessImageNameW (Win32 path form) or null. */
  imagePath(): string | null;
  /** Command line (NtQueryInformationProcess ProcessCommandLineInformation) or null. */
  commandLine(): string | null;
  /** TerminateProcess; 0 on success, else the Win32 error code. */
  terminate(exitCode: number): number;
  /** WaitForSingleObject: true when the process has exited within timeoutMs. */
  waitForExit(timeoutMs: number): boolean;
  close(): void;
}

export type OpenResult = { ok: true; handle: ProcessHandle } | { ok: false; error: number };

/** One RM_PROCESS_INFO. */
export interface RmProcessInfo {
  pid: number;
  /** RM_UNIQUE_PROCESS.ProcessStartTime as a decimal 64-bit FILETIME, same form as ProcessInfo.startKey. */
  startKey: string;
  appName: string;
  serviceShortName: string;
  /** RM_APP_TYPE: 0 unknown, 1 main window, 2 other window, 3 service, 4 explorer, 5 console, 1000 critical. */
  appType: number;
}

export interface RmListResult {
  /** ERROR_SUCCESS, ERROR_MORE_DATA (capacity too small) or another Win32 error. */
  error: number;
  /** pnProcInfoNeeded. */
  needed: number;
  processes: RmProcessInfo[];
}

/** rstrtmgr.dll, one call per function; the retry and batching logic lives in restart-manager.ts. */
export interface RestartManagerApi {
  startSession(): { error: number; session: number };
  registerFiles(session: number, files: readonly string[]): number;
  /** RmGetList with room for `capacity` entries. */
  getList(session: number, capacity: number): RmListResult;
  endSession(session: number): number;
}

export interface WinApi {
  /** CreateToolhelp32Snapshot + Process32FirstW/NextW; null when the snapshot cannot be taken. */
  listProcesses(): ToolhelpRow[] | null;
  openProcess(pid: number, access: number): OpenResult;
  /** null when rstrtmgr.dll cannot be loaded. */
  restartManager: RestartManagerApi | null;
}
