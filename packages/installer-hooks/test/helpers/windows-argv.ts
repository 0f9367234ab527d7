/**
 * Splits a command line the way the Microsoft C runtime (and so Node on Windows) builds
 * argv for the arguments after the program name: 2n backslashes before a quote give n and
 * toggle quoting, 2n+1 give n and a literal quote, other backslashes are literal, `""`
 * inside quotes is a literal quote.
 */
export function splitWindowsArgs(line: string): string[] {
  const args: string[] = [];
  let cur = '';
  let inArg = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === '\\') {
      let n = 0;
      while (line[i] === '\\') {
        n++;
        i++;
      }
      if (line[i] === '"') {
        cur += '\\'.repeat(Math.floor(n / 2));
        if (n % 2 === 1) cur += '"';
        else {
          if (quoted && line[i + 1] === '"') {
            cur += '"';
            i++;
          } else quoted = !quoted;
        }
      } else {
        cur += '\\'.repeat(n);
        i--;
      }
      inArg = true;
      continue;
    }
    if (ch === '"') {
      if (quoted && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else quoted = !quoted;
      inArg = true;
      continue;
    }
    if ((ch === ' ' || ch === '\t') && !quoted) {
      if (inArg) args.push(cur);
      cur = '';
      inArg = false;
      continue;
    }
    cur += ch;
    inArg = true;
  }
  if (inArg) args.push(cur);
  return args;
}
