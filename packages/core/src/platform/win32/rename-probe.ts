// The rename probe: rename a file to a sibling name and straight back. This is the operation the
// upgrade's swap performs, and Windows refuses it while any handle to the file is open without
// FILE_SHARE_DELETE — including handles in processes the Restart Manager does not report (and
// everything under Wine, whose Restart Manager is a stub). A running exe or a loaded DLL can be
// renamed, which is right: the swap can move those too.
import { renameSync } from 'node:fs';

export const PROBE_SUFFIX = '.llm-upgrade-probe';

export type ProbeResult = { held: false } | { held: true; code: string };

export interface RenameFs {
  rename(from: string, to: string): void;
}

const realFs: RenameFs = { rename: renameSync };

/**
 * held:false when the round trip worked or the file is gone; otherwise the errno code of the
 * first rename (EBUSY = sharing violation, EPERM/EACCES = access denied, which the swap would hit
 * just the same). Throws only if the file was renamed and cannot be renamed back.
 */
export function probeRename(file: string, fs: RenameFs = realFs): ProbeResult {
  const aside = `${file}${PROBE_SUFFIX}`;
  try {
    fs.rename(file, aside);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
    if (code === 'ENOENT') return { held: false };
    return { held: true, code };
  }
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      fs.rename(aside, file);
      return { held: false };
    } catch (e) {
      lastError = e;
    }
  }
  throw new Error(`rename probe moved ${file} to ${aside} and could not move it back: ${(lastError as Error).message}`);
}
