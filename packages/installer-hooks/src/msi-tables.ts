import { MSI_AUTHORITATIVE_STOP, MSI_BEST_EFFORT_STOP, MSI_BINARY_KEY, type MsiCustomActionSpec } from './contract.js';
import { msiStopArguments } from './command-line.js';
import type { ResolvedDescription } from './description.js';

/**
 * The Binary table as an IDT file for `msibuild -i`: the stream column points at
 * Binary/<key>.ibd next to the .idt.
 */
export function binaryTableIdt(): { idt: string; streamFile: string } {
  return {
    idt: `Name\tData\ns72\tv0\nBinary\tName\n${MSI_BINARY_KEY}\t${MSI_BINARY_KEY}.ibd\n`,
    streamFile: `Binary/${MSI_BINARY_KEY}.ibd`,
  };
}

function sqlString(s: string): string {
  if (s.includes("'")) throw new Error(`cannot put ${JSON.stringify(s)} into an MSI SQL string literal`);
  return `'${s}'`;
}

/**
 * SQL for the two type-2 custom actions and their sequence rows, run with
 * `msibuild x.msi -q …` after wixl (which drops BinaryKey+ExeCommand actions).
 */
export function customActionQueries(d: ResolvedDescription): string[] {
  const rows = (s: MsiCustomActionSpec) => [
    `INSERT INTO CustomAction (Action, Type, Source, Target) VALUES (${sqlString(s.action)}, ${s.type}, ${sqlString(MSI_BINARY_KEY)}, ${sqlString(msiStopArguments(d, s === MSI_BEST_EFFORT_STOP))})`,
    `INSERT INTO InstallExecuteSequence (Action, Condition, Sequence) VALUES (${sqlString(s.action)}, ${sqlString(s.condition)}, ${s.sequence})`,
  ];
  return [...rows(MSI_BEST_EFFORT_STOP), ...rows(MSI_AUTHORITATIVE_STOP)];
}
