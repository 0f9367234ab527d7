import type { CoreEvent } from '@llm-upgrade/core';

/** Progress events of the upgrader library (the CLI decides how to show them); core events pass through. */
export type UpgradeEvent =
  | CoreEvent
  | { type: 'phase'; phase: string; detail?: string }
  | { type: 'download'; url: string; receivedBytes: number; totalBytes: number; resumedFrom?: number }
  | { type: 'download-retry'; url: string; attempt: number; reason: string }
  | { type: 'verify'; bytes: number; entries: number }
  | { type: 'stage'; bytes: number; totalBytes: number; files: number; totalFiles: number }
  | { type: 'swap'; done: number; total: number }
  /** `ops`: the moves, on the write that journals them. */
  | { type: 'journal'; seq: number; state: string; done: number; ops?: { op: string; path: string }[] }
  | { type: 'thawed'; pid: number; name: string }
  | { type: 'restart'; how: string; pid?: number; logFile?: string }
  | { type: 'health'; url: string; attempt: number; status?: number; version?: string; error?: string }
  | { type: 'rollback'; reason: string; moves: number }
  | { type: 'recovered'; action: string; moves: number }
  | { type: 'test-paused'; step: number };

export type UpgradeEventSink = (e: UpgradeEvent) => void;
