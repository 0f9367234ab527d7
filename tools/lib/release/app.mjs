// An app directory: app.json says what to release (name, default version, installer
// identity, platforms and their smoke commands) and where the payloads come from — a
// `buildPayload` module, or prebuilt directories payload/<platform>/.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export const KNOWN_PLATFORMS = ['linux-x64', 'win32-x64'];
const FORMAT = { 'linux-x64': 'tar.gz', 'win32-x64': 'zip' };

export function archiveFormat(platform) {
  return FORMAT[platform] ?? (platform.startsWith('win32') ? 'zip' : 'tar.gz');
}

export function loadApp(appDir) {
  const dir = resolve(appDir);
  const file = join(dir, 'app.json');
  if (!existsSync(file)) throw new Error(`${file} not found: --app-dir must hold an app.json (see examples/sample-app)`);
  const app = JSON.parse(readFileSync(file, 'utf8'));
  const need = (field) => {
    if (typeof app[field] !== 'string' || !app[field]) throw new Error(`${file}: "${field}" is required`);
  };
  need('name');
  if (!/^[a-z0-9][a-z0-9._-]*$/i.test(app.name)) throw new Error(`${file}: name "${app.name}" must be a plain file-name-safe word`);
  if (typeof app.platforms !== 'object' || !app.platforms || !Object.keys(app.platforms).length)
    throw new Error(`${file}: "platforms" must name at least one platform`);
  for (const [key, p] of Object.entries(app.platforms)) {
    if (p.smoke !== undefined && (!Array.isArray(p.smoke) || !p.smoke.every((s) => typeof s === 'string')))
      throw new Error(`${file}: platforms.${key}.smoke must be an argv array`);
  }
  const installers = ['productName', 'manufacturer', 'upgradeCode', 'installDirName'].every((f) => typeof app[f] === 'string' && app[f]);
  return { ...app, dir, file, installers };
}

/**
 * The payload directory of one platform: built by the app's buildPayload module into
 * `workDir`, or the prebuilt `<appDir>/payload/<platform>`. Returns { dir } or { skipped }.
 */
export async function preparePayload(app, { version, platform, workDir }) {
  if (app.buildPayload) {
    const mod = await import(pathToFileURL(join(app.dir, app.buildPayload)).href);
    if (typeof mod.buildPayload !== 'function') throw new Error(`${join(app.dir, app.buildPayload)} does not export buildPayload()`);
    const outDir = join(workDir, 'payload', platform);
    const r = await mod.buildPayload({ version, platform, outDir });
    return r && r.built === false ? { skipped: r.reason ?? 'not built' } : { dir: outDir };
  }
  const prebuilt = join(app.dir, 'payload', platform);
  if (existsSync(prebuilt) && statSync(prebuilt).isDirectory()) return { dir: prebuilt };
  return { skipped: `no build script and no ${prebuilt}` };
}
