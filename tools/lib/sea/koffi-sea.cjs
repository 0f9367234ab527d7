'use strict';
// Stands in for a static `import 'koffi'` inside the single-executable bundle (esbuild alias):
// esbuild cannot bundle a .node addon. Loads LLM_UPGRADE_KOFFI_NATIVE (set by sea-entry.cjs
// to the extracted SEA asset) with process.dlopen; the native module exports koffi's whole
// API (load, func, struct, ...), the package's JS wrapper only adds deprecated aliases.
const { extractKoffiAsset, removeExtracted } = require('./koffi-extract.cjs');

function load() {
  const named = process.env.LLM_UPGRADE_KOFFI_NATIVE;
  const file = named || extractKoffiAsset();
  if (!file) throw new Error('koffi is not available in this build (this executable carries no koffi.node)');
  const mod = { exports: {} };
  try {
    process.dlopen(mod, file);
  } finally {
    if (!named) removeExtracted(file);
  }
  return mod.exports;
}

module.exports = load();
