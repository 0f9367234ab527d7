import { spawnSync } from 'node:child_process';

export function hasTool(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Tools missing for a test group, as a printable reason, or '' when all are there. */
export function missingTools(...cmds: string[]): string {
  const missing = cmds.filter((c) => !hasTool(c));
  return missing.length ? `missing ${missing.join(', ')} (run \`npm run setup\`)` : '';
}
