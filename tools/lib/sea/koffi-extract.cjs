'use strict';
// Writes the SEA asset `koffi.node` to a fresh private directory and returns its path, or null
// when this executable carries no such asset. Once it is loaded, removeExtracted() deletes it
// where the OS allows deleting a loaded library (Linux, macOS); Windows keeps it.
// mkdtemp, not a predictable name: an MSI action runs the upgrader as SYSTEM with TEMP =
// C:\Windows\Temp, where any user can create directories. A directory the attacker made
// could receive a swapped koffi.node, or a DLL that koffi.node's dependencies resolve to
// (LoadLibraryEx with an altered search path looks next to the module). A directory we
// create inherits no user write access.
const { createHash } = require('node:crypto');
const { mkdtempSync, readFileSync, rmdirSync, unlinkSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { dirname, join } = require('node:path');

const ASSET = 'koffi.node';

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
  const dir = mkdtempSync(join(tmpdir(), 'llm-upgrade-koffi-'));
  const file = join(dir, ASSET);
  writeFileSync(file, bytes, { flag: 'wx' });
  const want = createHash('sha256').update(bytes).digest('hex');
  const got = createHash('sha256').update(readFileSync(file)).digest('hex');
  if (want !== got) throw new Error(`${file} changed after it was written; refusing to use it`);
  return file;
}

/** Deletes an extracted, already loaded koffi.node and its directory (Windows refuses: in use). */
function removeExtracted(file) {
  try {
    unlinkSync(file);
    rmdirSync(dirname(file));
  } catch {
    // already gone
  }
}

module.exports = { extractKoffiAsset, removeExtracted, ASSET };
