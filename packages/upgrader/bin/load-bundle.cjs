// Loads the CLI bundle (dist/cli.bundle.cjs) with a V8 code cache, so a start does not compile
// ~650 KB of JavaScript again (~12–22 ms on Node 20 here, a tenth of `llm-upgrade holders`).
// Node ≥ 22.1: Node's own compile cache (module.enableCompileCache) in our directory.
// Node 20: the bundle is compiled through vm.Script with the cached data of an earlier run and
// run as the CommonJS module it is; the cache is written once, at exit, with every function the
// run compiled. The cache lives in the user's own cache directory and is used only when that
// directory is the user's alone (owner, no group/other write): cached data is code. Any doubt
// (no such directory, another owner, a rejected cache, no vm support) means a plain require.
// LLM_UPGRADE_NO_COMPILE_CACHE=1 turns it off.
'use strict';
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const Module = require('node:module');
const os = require('node:os');
const path = require('node:path');
const vm = require('node:vm');

function cacheRoot() {
  if (process.platform === 'win32') return process.env.LOCALAPPDATA ? path.join(process.env.LOCALAPPDATA, 'llm-upgrade') : null;
  const home = os.homedir();
  if (process.platform === 'darwin') return path.join(home, 'Library', 'Caches', 'llm-upgrade');
  return path.join(process.env.XDG_CACHE_HOME || path.join(home, '.cache'), 'llm-upgrade');
}

/** The compile-cache directory when it is ours alone, else null. */
function privateCacheDir() {
  if (process.env.LLM_UPGRADE_NO_COMPILE_CACHE) return null;
  const root = cacheRoot();
  if (!root) return null;
  const dir = path.join(root, `compile-cache-${process.version}-${process.arch}`);
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = fs.lstatSync(dir);
    if (!st.isDirectory()) return null;
    if (process.platform !== 'win32' && (st.uid !== process.geteuid() || (st.mode & 0o022) !== 0)) return null;
    return dir;
  } catch {
    return null;
  }
}

function runCommonJs(fn, file) {
  const mod = new Module(file, null);
  mod.filename = file;
  mod.paths = Module._nodeModulePaths(path.dirname(file));
  mod.loaded = true;
  fn.call(mod.exports, mod.exports, Module.createRequire(file), mod, file, path.dirname(file));
}

function loadWithVmCache(file, dir) {
  const importModuleDynamically = vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER;
  if (!importModuleDynamically) return false; // the bundle's import() of built-ins needs it
  const source = fs.readFileSync(file, 'utf8');
  // V8 checks only the source's length against cached data: the key is the content itself.
  const cacheFile = path.join(dir, `${createHash('sha256').update(source).digest('hex').slice(0, 32)}.v8`);
  let cachedData;
  try {
    cachedData = fs.readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  // A hashbang is valid only at the very start of a script: inside the wrapper it is a comment.
  const body = source.startsWith('#!') ? `//${source.slice(2)}` : source;
  const script = new vm.Script(Module.wrap(body), { filename: file, cachedData, importModuleDynamically });
  if (cachedData === undefined || script.cachedDataRejected) {
    process.once('exit', () => {
      try {
        const tmp = `${cacheFile}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
        fs.renameSync(tmp, cacheFile);
      } catch {
        // a cache is a nicety: a full disk or a read-only home only costs the next start
      }
    });
  }
  runCommonJs(script.runInThisContext(), file);
  return true;
}

/** Runs the bundle at `file` (an absolute path). */
module.exports = function loadBundle(file) {
  const dir = privateCacheDir();
  if (dir && typeof Module.enableCompileCache === 'function') {
    Module.enableCompileCache(dir);
    require(file);
    return;
  }
  if (dir && loadWithVmCache(file, dir)) return;
  require(file);
};
