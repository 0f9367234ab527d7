#!/usr/bin/env node
// npm run release -- [--version X] [--app-dir DIR] [--out DIR] [--sign-key FILE] [--skip-build]
// One command from source to signed installers, archives and a feed the upgrader consumes.
// Defaults: the bundled sample app (examples/sample-app), its version, out/release/<version>.
// Windows signing: WINDOWS_CERTIFICATE_FILE (PKCS#12), WINDOWS_CERTIFICATE_PASSWORD,
// WINDOWS_TIMESTAMP_URL (optional); without a certificate everything is built and marked
// unsigned. Manifest signing: --sign-key FILE or LLM_UPGRADE_SIGN_KEY (Ed25519).
// Exit: 0 released, 1 a step failed, 2 bad usage.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ReleaseUsageError, renderReport, runRelease } from './lib/release/run.mjs';

const HELP = `usage: npm run release -- [--version X] [--app-dir DIR] [--out DIR] [--sign-key FILE] [--skip-build]
  --version X      release version (semver; default: the app's app.json "version")
  --app-dir DIR    the app to release (default examples/sample-app; see its README)
  --out DIR        output directory (default out/release/<version>)
  --sign-key FILE  Ed25519 key that signs each package manifest (or LLM_UPGRADE_SIGN_KEY)
  --skip-build     use the packages and out/sea as they are (the nx target builds them first)
env: WINDOWS_CERTIFICATE_FILE, WINDOWS_CERTIFICATE_PASSWORD, WINDOWS_TIMESTAMP_URL
`;

let values;
try {
  ({ values } = parseArgs({
    options: {
      version: { type: 'string' },
      'app-dir': { type: 'string' },
      out: { type: 'string' },
      'sign-key': { type: 'string' },
      'skip-build': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  }));
} catch (e) {
  process.stderr.write(`release: ${e.message}\n${HELP}`);
  process.exit(2);
}
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

try {
  const summary = await runRelease({
    repoRoot: fileURLToPath(new URL('..', import.meta.url)),
    version: values.version,
    appDir: values['app-dir'],
    out: values.out,
    signKey: values['sign-key'],
    skipBuild: values['skip-build'] === true,
  });
  process.stdout.write(renderReport(summary));
} catch (e) {
  const usage = e instanceof ReleaseUsageError;
  const detail =
    e && typeof e === 'object' && 'stderr' in e && e.stderr ? `\n${String(e.stderr).trim().split('\n').slice(-20).join('\n')}` : '';
  process.stderr.write(`release failed: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}${detail}\n`);
  process.exitCode = usage ? 2 : 1;
}
