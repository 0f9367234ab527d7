/**
 * One argument for a Windows command line (CommandLineToArgvW / the MSVC runtime, which
 * Node uses): quoted when it has a space or tab; backslashes only matter before a quote.
 */
export function quoteWindowsArg(arg: string): string {
  if (arg !== '' && !/[ \t"]/.test(arg)) return arg;
  let out = '"';
  let backslashes = 0;
  for (const ch of arg) {
    if (ch === '\\') {
      backslashes++;
      continue;
    }
    if (ch === '"') {
      out += '\\'.repeat(backslashes * 2 + 1) + '"';
    } else {
      out += '\\'.repeat(backslashes) + ch;
    }
    backslashes = 0;
  }
  return `${out}${'\\'.repeat(backslashes * 2)}"`;
}

/**
 * A directory argument whose value ends in a backslash (MSI's [INSTALLDIR] always does).
 * `"C:\App\"` would escape the closing quote and swallow the next argument, so the value
 * is closed with `.`: `"C:\App\."` — the upgrader resolves it to C:\App.
 */
export function quoteDirWithTrailingSeparator(formattedDir: string): string {
  return `"${formattedDir}."`;
}
