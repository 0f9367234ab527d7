import semver from 'semver';

/**
 * The version a runner's version command reports for *its own binary*. `ollama --version`
 * prints `ollama version is X` when no server answers, but with a server of another version
 * running it prints the server's version first and `Warning: client version is Y`: the
 * client's is the binary's. Falls back to the first semantic version in the text.
 */
export function parseVersionOutput(text: string): string | null {
  for (const re of [/client version is\s+v?(\S+)/i, /version is\s+v?(\S+)/i]) {
    const m = re.exec(text);
    const v = m ? semver.valid(m[1]!.replace(/[.,;]$/, '')) : null;
    if (v) return v;
  }
  return versionInText(text);
}

/** The first semantic version in a command's output ("ollama version is 0.12.3" → 0.12.3). */
export function versionInText(text: string): string | null {
  for (const m of text.matchAll(/v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)/g)) {
    if (semver.valid(m[1]!)) return m[1]!;
  }
  return null;
}
