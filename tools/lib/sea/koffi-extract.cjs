'use strict';
// Writes the SEA asset `koffi.node` where it can be loaded and returns its path, or null when
// this executable carries no such asset.
// - With %LOCALAPPDATA% (Windows): one verified copy per koffi.node content in
//   %LOCALAPPDATA%\llm-upgrade\koffi-<sha256>\, reused by every later run. A loaded DLL cannot be
//   deleted, so a fresh copy per run would leave 1.1 MB behind each time (an installer runs the
//   upgrader several times per upgrade). %LOCALAPPDATA% is the user's own (SYSTEM's lives under
//   system32\config\systemprofile); the copy is re-hashed before every use.
// - Otherwise, or when that fails: a fresh mkdtemp directory; once loaded, removeExtracted()
//   deletes it where the OS allows deleting a loaded library (Linux, macOS).
// Never a predictable name in TEMP: an MSI action runs the upgrader as SYSTEM with TEMP =
// C:\Windows\Temp, where any user can create directories. A directory the attacker made
// could receive a swapped koffi.node, or a DLL that koffi.node's dependencies resolve to
// (LoadLibraryEx with an altered search path looks next to the module). A directory we
// create inherits no user write access.
const { createHash } = require('node:crypto');
const { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmdirSync, rmSync, unlinkSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { basename, dirname, isAbsolute, join } = require('node:path');

const ASSET = 'koffi.node';

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** The kept copy in the user's own %LOCALAPPDATA%, written once and verified on every use; null when not possible. */
function keptCopy(bytes, want) {
  const base = process.env.LOCALAPPDATA;
  if (!base || !isAbsolute(base)) return null;
  const dir = join(base, 'llm-upgrade', `koffi-${want.slice(0, 16)}`);
  const file = join(dir, ASSET);
  const verified = () => existsSync(file) && sha256(readFileSync(file)) === want;
  try {
    if (verified()) return file;
    mkdirSync(dir, { recursive: true });
    const tmp = join(dir, `${ASSET}.${process.pid}.tmp`);
    writeFileSync(tmp, bytes, { flag: 'wx' });
    try {
      renameSync(tmp, file);
    } catch {
      rmSync(tmp, { force: true }); // another run has the old copy loaded: it is checked below
    }
    return verified() ? file : null;
  } catch {
    return null;
  }
}

function extractKoffiAsset() {
  let sea;
  try {
    sea = require('node:sea');
  } catch {
    return null;
  }
  if (!sea.isSea()) return null;
  let bytes;
  try {
    bytes = Buffer.from(sea.getAsset(ASSET));
  } catch {
    return null;
  }
  const want = sha256(bytes);
  const kept = keptCopy(bytes, want);
  if (kept) return kept;
  const dir = mkdtempSync(join(tmpdir(), 'llm-upgrade-koffi-'));
  const file = join(dir, ASSET);
  writeFileSync(file, bytes, { flag: 'wx' });
  if (sha256(readFileSync(file)) !== want) throw new Error(`${file} changed after it was written; refusing to use it`);
  return file;
}

/** Deletes a fresh (mkdtemp) copy once loaded, with its directory (Windows refuses: in use); a kept copy stays. */
function removeExtracted(file) {
  const dir = dirname(file);
  if (dirname(dir) !== tmpdir() || !basename(dir).startsWith('llm-upgrade-koffi-')) return; // a kept copy stays
  try {
    unlinkSync(file);
    rmdirSync(dir);
  } catch {
    // already gone
  }
}

module.exports = { extractKoffiAsset, removeExtracted, ASSET };
