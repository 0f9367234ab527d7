import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type Row = Record<string, string>;

/**
 * `msiinfo export x.msi TABLE` → rows keyed by column name (the IDT's first line). Run in a
 * scratch directory: for tables with streams (Binary) msiinfo also writes the stream files
 * into `./<Table>/` of its working directory.
 */
export function exportTable(msi: string, table: string): Row[] {
  const scratch = mkdtempSync(join(tmpdir(), 'llm-upgrade-msiinfo-'));
  let text: string;
  try {
    text = execFileSync('msiinfo', ['export', msi, table], { cwd: scratch, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const lines = text.split(/\r?\n/).filter((l) => l !== '');
  const columns = (lines[0] ?? '').split('\t');
  return lines.slice(3).map((line) => {
    const cells = line.split('\t');
    return Object.fromEntries(columns.map((c, i) => [c, cells[i] ?? '']));
  });
}

export function tables(msi: string): string[] {
  return execFileSync('msiinfo', ['tables', msi], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

export function extractStream(msi: string, stream: string): Buffer {
  return execFileSync('msiinfo', ['extract', msi, stream], { maxBuffer: 512 * 1024 * 1024 });
}
