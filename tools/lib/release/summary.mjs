// The closing table of artifacts and summary.json.
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export function humanSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = bytes / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

/** "yes (authenticode)", "NO" for a Windows artifact left unsigned, "-" where no signature applies. */
export function signedLabel(a) {
  if (a.signed === null || a.signed === undefined) return '-';
  return a.signed ? `yes (${a.signature})` : 'NO (unsigned)';
}

export function renderTable(artifacts) {
  const rows = artifacts.map((a) => [a.name, humanSize(a.size), a.sha256, signedLabel(a)]);
  const head = ['artifact', 'size', 'sha256', 'signed'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) =>
    cells
      .map((c, i) => (i === 1 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export async function writeSummary(outDir, summary) {
  const file = join(outDir, 'summary.json');
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(summary, null, 2)}\n`);
  await rename(tmp, file);
  return file;
}
