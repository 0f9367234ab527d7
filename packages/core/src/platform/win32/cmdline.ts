/**
 * Splits a Windows command line into argv the way CommandLineToArgvW / the MSVC runtime do:
 * argv[0] ends at the next quote or space with no escaping; after it, 2n backslashes + `"` give n
 * backslashes and toggle quoting, 2n+1 backslashes + `"` give n backslashes and a literal quote,
 * and `""` inside quotes is a literal quote.
 */
export function splitCommandLine(line: string): string[] {
  const argv: string[] = [];
  let i = 0;
  const n = line.length;
  while (i < n && (line[i] === ' ' || line[i] === '\t')) i++;
  if (i >= n) return argv;
  let first = '';
  if (line[i] === '"') {
    i++;
    while (i < n && line[i] !== '"') first += line[i++];
    i++;
  } else {
    while (i < n && line[i] !== ' ' && line[i] !== '\t') first += line[i++];
  }
  argv.push(first);
  for (;;) {
    while (i < n && (line[i] === ' ' || line[i] === '\t')) i++;
    if (i >= n) break;
    let arg = '';
    let quoted = false;
    while (i < n && (quoted || (line[i] !== ' ' && line[i] !== '\t'))) {
      if (line[i] === '\\') {
        let slashes = 0;
        while (i < n && line[i] === '\\') {
          slashes++;
          i++;
        }
        if (line[i] === '"') {
          arg += '\\'.repeat(Math.floor(slashes / 2));
          if (slashes % 2 === 1) {
            arg += '"';
            i++;
          }
        } else {
          arg += '\\'.repeat(slashes);
        }
        continue;
      }
      if (line[i] === '"') {
        if (quoted && line[i + 1] === '"') {
          arg += '"';
          i += 2;
          continue;
        }
        quoted = !quoted;
        i++;
        continue;
      }
      arg += line[i++];
    }
    argv.push(arg);
  }
  return argv;
}
