'use strict';
// Entry point of the single executable. On Windows the executable carries koffi's native
// module as a SEA asset: write it to a private temp dir and point the Win32 backend's loader
// at it (LLM_UPGRADE_KOFFI_NATIVE, its documented override) before the CLI loads. A failure
// here is not fatal: the backend reports that koffi is unavailable and falls back.
if (process.platform === 'win32' && !process.env.LLM_UPGRADE_KOFFI_NATIVE) {
  try {
    const file = require('./koffi-extract.cjs').extractKoffiAsset();
    if (file) process.env.LLM_UPGRADE_KOFFI_NATIVE = file;
  } catch (e) {
    process.env.LLM_UPGRADE_KOFFI_EXTRACT_ERROR = e instanceof Error ? e.message : String(e);
  }
}
require('__LLM_UPGRADE_CLI_MAIN__');
