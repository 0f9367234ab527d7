'use strict';
// Replaces `node:module` inside the single-executable bundle. Everything the executable
// runs is in the bundle; a require made with createRequire() may load built-ins only.
// Otherwise `createRequire(...)('koffi')` would walk node_modules up from the executable's
// directory to C:\node_modules — a folder any user can create — and an MSI action running
// as SYSTEM would load whatever was planted there.
const real = require('node:module');

function createRequire(from) {
  const inner = real.createRequire(from);
  const guarded = function require(id) {
    if (real.isBuiltin(id)) return inner(id);
    const err = new Error(`Cannot find module '${id}': the llm-upgrade single executable loads no modules from disk`);
    err.code = 'MODULE_NOT_FOUND';
    throw err;
  };
  guarded.resolve = (id) => {
    if (real.isBuiltin(id)) return id;
    const err = new Error(`Cannot resolve '${id}' in the llm-upgrade single executable`);
    err.code = 'MODULE_NOT_FOUND';
    throw err;
  };
  guarded.cache = Object.create(null);
  return guarded;
}

module.exports = Object.assign(Object.create(null), real, { createRequire, default: undefined });
module.exports.default = module.exports;
