import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hasTool } from './tools.js';

/**
 * A small Windows exe standing in for the upgrader where the test is about the installer,
 * not the upgrader (the real SEA is 84 MiB). Built with MinGW when present; otherwise a
 * file of known bytes, which is all the MSI/NSIS build does with it (embed it).
 */
export function makeStandInUpgrader(dir: string): { file: string; kind: 'mingw-exe' | 'bytes' } {
  const file = join(dir, 'llm-upgrade-stand-in.exe');
  if (hasTool('x86_64-w64-mingw32-gcc')) {
    const src = join(dir, 'stand-in.c');
    writeFileSync(
      src,
      '#include <stdio.h>\nint main(int argc, char **argv) { for (int i = 1; i < argc; i++) printf("%s\\n", argv[i]); return 0; }\n',
    );
    execFileSync('x86_64-w64-mingw32-gcc', ['-O2', '-s', '-o', file, src]);
    return { file, kind: 'mingw-exe' };
  }
  writeFileSync(file, Buffer.concat([Buffer.from('MZ'), Buffer.alloc(4094, 0x5a)]));
  return { file, kind: 'bytes' };
}

/** COFF machine of a PE file (0x8664 = x64), or null when it is not a PE image. */
export function peMachine(bytes: Buffer): number | null {
  if (bytes.length < 0x40 || bytes.toString('latin1', 0, 2) !== 'MZ') return null;
  const peOffset = bytes.readUInt32LE(0x3c);
  if (peOffset + 6 > bytes.length || bytes.toString('latin1', peOffset, peOffset + 4) !== 'PE\0\0') return null;
  return bytes.readUInt16LE(peOffset + 4);
}
