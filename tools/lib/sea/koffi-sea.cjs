'use strict';
// Stands in for a static `import 'koffi'` inside the single-executable bundle (esbuild alias):
// esbuild cannot bundle a .node addon. Loads LLM_UPGRADE_KOFFI_NATIVE (set by sea-entry.cjs
// to the extracted SEA asset) with process.dlopen; the native module exports koffi's whole
// API (load, func, struct, ...), the package's JS wrapper only adds deprecated aliases.
const { extractKoffiAsset } = require('./koffi-extract.cjs');

function load() {
  const file = process.env.LLM_UPGRADE_KOFFI_NATIVE || extractKoffiAsset();
  if (!file) throw new Error('koffi is not available in this build (only the win32 executable carries koffi.node)');
  const mod = { exports: {} };
  process.dlopen(mod, file);
  return mod.exports;
}

module.exports = load();
