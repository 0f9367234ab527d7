import type { GpuUsage } from './types.js';
import { execFileText, type Exec } from './exec.js';

/** Arguments whose output parseNvidiaSmi reads: one line per compute process, no header, no units. */
export const NVIDIA_SMI_ARGS = ['--query-compute-apps=pid,used_memory,gpu_uuid', '--format=csv,noheader,nounits'] as const;

const NVIDIA_SMI_TIMEOUT_MS = 5_000;

/**
 * Parses `nvidia-smi --query-compute-apps=pid,used_memory,gpu_uuid --format=csv,noheader,nounits`.
 * Memory the driver does not report (`[N/A]` under Windows WDDM, `[Not Supported]` on some boards)
 * becomes NaN (null in JSON): the process still holds the GPU, we just do not know how much.
 * Lines that are not process rows (driver errors, blank lines) are skipped.
 */
export function parseNvidiaSmi(csv: string): GpuUsage[] {
  const out: GpuUsage[] = [];
  for (const raw of csv.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line) continue;
    const cells = line.split(',').map((c) => c.trim());
    if (cells.length < 3) continue;
    const [pidText, memText, gpu] = cells as [string, string, string];
    if (!/^\d+$/.test(pidText)) continue;
    const mem = /^\d+(\.\d+)?$/.test(memText) ? Number(memText) : Number.NaN;
    out.push({ pid: Number(pidText), usedMiB: mem, gpu });
  }
  return out;
}

export interface NvidiaSmiOptions {
  /** Programs to try in order (the backend adds OS-specific locations). Default: `nvidia-smi` on PATH. */
  candidates?: string[];
  exec?: Exec;
  timeoutMs?: number;
}

/** GPU memory per process, or [] when nvidia-smi is absent, times out or fails. Never throws. */
export async function queryNvidiaSmi(options: NvidiaSmiOptions = {}): Promise<GpuUsage[]> {
  const exec = options.exec ?? execFileText;
  for (const program of options.candidates ?? ['nvidia-smi']) {
    const r = await exec(program, NVIDIA_SMI_ARGS, { timeoutMs: options.timeoutMs ?? NVIDIA_SMI_TIMEOUT_MS });
    if (r.error === 'ENOENT') continue;
    if (r.code !== 0) return [];
    return parseNvidiaSmi(r.stdout);
  }
  return [];
}
