export {
  HOOK_EXIT,
  HOOK_FIXED_ARGS,
  MSI_CA_BITS,
  MSI_BINARY_KEY,
  MSI_RUN_CONDITION,
  MSI_SEQUENCE,
  MSI_BEST_EFFORT_STOP,
  MSI_AUTHORITATIVE_STOP,
  MSI_TARGET_MAX_CHARS,
  DEFAULT_MSI_LOG_FILE_NAME,
  DEFAULT_NSIS_LOG_FILE_NAME,
  msiLogPath,
  nsisLogPath,
} from './contract.js';
export type { HookExitCode, MsiCustomActionSpec } from './contract.js';
export { resolveDescription, checkVersion, DescriptionError } from './description.js';
export type { InstallerDescription, ResolvedDescription } from './description.js';
export { msiStopArguments, nsisStopArguments } from './command-line.js';
export { quoteWindowsArg, quoteDirWithTrailingSeparator } from './quoting.js';
export { MsiIdAllocator, isValidMsiIdentifier, MSI_IDENTIFIER_MAX } from './msi-ids.js';
export { readPayload, countFiles } from './payload.js';
export type { PayloadDir, PayloadFile } from './payload.js';
export { renderWixSource, renderWixToolsetSnippet, DOWNGRADE_ERROR_MESSAGE } from './wix.js';
export type { RenderedWix } from './wix.js';
export { binaryTableIdt, customActionQueries } from './msi-tables.js';
export { renderNsisInclude, renderGenericNsisInclude, nsisString } from './nsis.js';
export { buildMsi } from './build-msi.js';
export type { BuildMsiOptions, BuildMsiResult } from './build-msi.js';
export { buildNsis, EXAMPLE_NSI } from './build-nsis.js';
export type { BuildNsisOptions, BuildNsisResult } from './build-nsis.js';
export { runTool, ToolError } from './run-tool.js';
export { INNO_EXIT, INNO_KEPT_UPGRADER, DEFAULT_INNO_LOG_FILE_NAME } from './contract.js';
export {
  renderInnoInclude,
  renderInnoIncludeFor,
  renderGenericInnoInclude,
  renderInnoScript,
  innoPreprocessorString,
  innoSetupValue,
} from './inno.js';
export type { InnoIncludeDefaults, InnoScriptOptions } from './inno.js';
export { buildInno, compileInnoScript, findIscc, windowsPathOf, INNO_SIGN_TOOL_NAME } from './build-inno.js';
export type { BuildInnoOptions, BuildInnoResult, CompileInnoOptions, InnoSignCommand } from './build-inno.js';
