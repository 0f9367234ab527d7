// The release pipeline: packages → single executables → payloads → archives → signed upgrader
// → MSI + NSIS → npm tarballs → feed.json, SHA256SUMS, summary. Each step either runs or,
// when its inputs are unchanged, reuses what it wrote last time (StepCache).
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { copyFile, mkdir, rename, writeFile } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { $ } from 'zx';
import { signWindowsFiles, signingFromEnv } from '../sign.mjs';
import { archiveFormat, KNOWN_PLATFORMS, loadApp, preparePayload } from './app.mjs';
import { StepCache } from './cache.mjs';
import { writeFeeds, writeSha256Sums } from './feed.mjs';
import { hashFile, hashOf } from './hash.mjs';
import { buildInnoFile, buildMsiFile, buildNsisFile, innoUnavailableReason, msiVersion, writeDescription } from './installers.mjs';
import { signPayload } from './payload-sign.mjs';
import { Progress } from './progress.mjs';
import { renderTable, writeSummary } from './summary.mjs';

const SEA_NAMES = { 'linux-x64': 'llm-upgrade-linux-x64', 'win32-x64': 'llm-upgrade-win32-x64.exe' };
const NPM_PACKAGES = ['packages/core', 'packages/upgrader', 'packages/installer-hooks'];
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

export class ReleaseUsageError extends Error {}

async function hasTool(name) {
  try {
    await $({ quiet: true })`sh -c ${`command -v ${name}`}`;
    return true;
  } catch {
    return false;
  }
}

/**
 * Hash of every file under dir (relative path, mode, content): what a payload or a package build is.
 * @param {string} dir
 * @param {(relativePath: string) => boolean} [filter]
 */
async function treeHash(dir, filter = () => true) {
  const entries = [];
  const visit = async (rel) => {
    for (const d of readdirSync(join(dir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = rel ? `${rel}/${d.name}` : d.name;
      if (!filter(p)) continue;
      if (d.isDirectory()) await visit(p);
      else if (d.isFile()) entries.push([p, (await hashFile(join(dir, p))).sha256]);
    }
  };
  if (existsSync(dir)) await visit('');
  return hashOf(entries);
}

/** Identity of the signing setup for cache keys (the password is only ever hashed). */
function signingIdentity(settings) {
  if (!settings) return 'unsigned';
  return hashOf(readFileSync(settings.certificateFile), settings.certificatePassword, settings.timestampServer ?? '', settings.description);
}

/** The Ed25519 public key (PEM) of a manifest-signing key file, as `apply --public-key` takes it. */
function publicKeyOf(keyFile) {
  const text = readFileSync(keyFile, 'utf8');
  const seed = Buffer.from(text.trim(), 'base64');
  const key = text.includes('-----BEGIN')
    ? createPrivateKey(text)
    : createPrivateKey({
        key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]),
        format: 'der',
        type: 'pkcs8',
      });
  if (key.asymmetricKeyType !== 'ed25519')
    throw new ReleaseUsageError(`${keyFile} is a ${key.asymmetricKeyType} key; manifests are signed with Ed25519`);
  return createPublicKey(key).export({ type: 'spki', format: 'pem' });
}

/** Copies src to dest unless dest already has the same content (keeps mtimes and hashes stable). */
async function copyIfChanged(src, dest) {
  const want = await hashFile(src);
  if (existsSync(dest) && (await hashFile(dest)).sha256 === want.sha256) return { ...want, copied: false };
  const tmp = `${dest}.tmp-${process.pid}`;
  await copyFile(src, tmp);
  await rename(tmp, dest);
  return { ...want, copied: true };
}

/**
 * Runs the release. opts: { repoRoot, version?, appDir?, out?, signKey?, skipBuild?, env?, stream? }.
 * Returns the summary (also written to <out>/summary.json).
 */
export async function runRelease(opts) {
  const started = Date.now();
  const repoRoot = resolve(opts.repoRoot);
  const env = opts.env ?? process.env;
  const progress = new Progress({ stream: opts.stream ?? process.stderr, total: 9 });
  let app;
  try {
    app = loadApp(opts.appDir ?? join(repoRoot, 'examples/sample-app'));
  } catch (e) {
    throw new ReleaseUsageError(e.message);
  }
  const version = opts.version ?? app.version;
  if (!version) throw new ReleaseUsageError(`no version: pass --version X or set "version" in ${app.file}`);
  if (!SEMVER.test(version)) throw new ReleaseUsageError(`--version "${version}" is not a semantic version (x.y.z)`);
  const outDir = resolve(opts.out ?? join(repoRoot, 'out/release', version));
  const work = join(outDir, '.work');
  const keyArg = opts.signKey ?? env.LLM_UPGRADE_SIGN_KEY;
  const signKey = keyArg ? resolve(keyArg) : null;
  if (signKey && !existsSync(signKey)) throw new ReleaseUsageError(`--sign-key ${signKey} does not exist`);
  let signing;
  try {
    signing = signingFromEnv(env);
  } catch (e) {
    throw new ReleaseUsageError(e.message);
  }
  await mkdir(work, { recursive: true });
  const cache = new StepCache(join(work, 'steps.json'));
  const sh = $({ quiet: true, cwd: repoRoot, env: { ...env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NO_COLOR: '1' } });
  const artifacts = [];
  const add = async (file, fields) => {
    const { size, sha256 } = await hashFile(file);
    const a = { name: relative(outDir, file), file, size, sha256, signed: null, signature: null, ...fields };
    artifacts.push(a);
    return a;
  };

  progress.info(`release ${app.name} ${version} from ${app.dir} → ${outDir}`);
  if (!signing) {
    progress.warn(
      'no code-signing certificate (set WINDOWS_CERTIFICATE_FILE and WINDOWS_CERTIFICATE_PASSWORD): the Windows upgrader, the MSI and the NSIS installer and uninstaller will be UNSIGNED; they are marked so in the summary',
    );
  } else if (process.platform !== 'win32' && !(await hasTool('osslsigncode'))) {
    throw new ReleaseUsageError('a certificate is set but osslsigncode is not installed (apt-get install osslsigncode, or npm run setup)');
  }

  // 1. packages
  await progress.step('build packages (nx run-many -t build)', async () => {
    if (opts.skipBuild) return { skipped: true, note: '--skip-build' };
    const r = await sh`npx nx run-many -t build --outputStyle=static`;
    const cached = /read the output from the cache instead of running the command for (\d+) out of (\d+)/.exec(r.stdout);
    return {
      skipped: Boolean(cached && cached[1] === cached[2]),
      note: cached ? `${cached[1]}/${cached[2]} from the nx cache` : undefined,
    };
  });

  // 2. single executables (build-sea keeps its own stamp and reuses unchanged outputs)
  const seaDir = join(repoRoot, 'out/sea');
  await progress.step('build single executables (tools/build-sea.mjs)', async () => {
    if (opts.skipBuild) return { skipped: true, note: '--skip-build' };
    const r = await sh`${process.execPath} tools/build-sea.mjs`;
    const reused = (r.stderr.match(/up to date/g) ?? []).length;
    return { skipped: reused === Object.keys(SEA_NAMES).length, note: reused ? `${reused} up to date` : undefined };
  });
  const seaManifest = JSON.parse(readFileSync(join(seaDir, 'manifest.json'), 'utf8'));

  // 3. payloads
  const payloads = {};
  const payloadFiles = [];
  await progress.step('build payloads', async () => {
    const built = [];
    for (const platform of Object.keys(app.platforms)) {
      if (!KNOWN_PLATFORMS.includes(platform)) {
        progress.warn(`platform ${platform} in ${app.file} is not one this pipeline builds (${KNOWN_PLATFORMS.join(', ')}): skipped`);
        continue;
      }
      const r = await preparePayload(app, { version, platform, workDir: work });
      if (r.skipped) progress.warn(`${platform} payload skipped: ${r.skipped}`);
      else {
        payloads[platform] = r.dir;
        built.push(platform);
      }
    }
    if (!built.length) throw new Error('no payload could be built for any platform');
    // What the app ships is signed too: every PE file of the Windows payload, before the zip
    // and the installers are made from it.
    if (payloads['win32-x64']) {
      const r = await signPayload({
        dir: payloads['win32-x64'],
        outDir: join(work, 'payload-signed', 'win32-x64'),
        cacheDir: join(work, 'pe-signed'),
        signing,
        identity: signingIdentity(signing),
      });
      payloads['win32-x64'] = r.dir;
      for (const f of r.files) payloadFiles.push({ platform: 'win32-x64', ...f });
    }
    const signedPe = payloadFiles.filter((f) => f.signed).length;
    return { note: `${built.join(', ')}; ${signedPe}/${payloadFiles.length} Windows PE files signed` };
  });

  // 4. archives (pack is deterministic: same payload, same bytes)
  const archives = {};
  await progress.step(`pack archives (llm-upgrade pack${signKey ? ', Ed25519-signed manifests' : ''})`, async () => {
    const cli = join(repoRoot, 'packages/upgrader/dist/cli/main.js');
    for (const [platform, dir] of Object.entries(payloads)) {
      const out = join(outDir, `${app.name}-${version}-${platform}.${archiveFormat(platform)}`);
      const smoke = app.platforms[platform]?.smoke;
      const r =
        await sh`${process.execPath} ${cli} pack ${dir} --name ${app.name} --version ${version} --platform ${platform} ${smoke ? ['--smoke', smoke.join(' ')] : []} ${signKey ? ['--sign-key', signKey] : []} --out ${out} --json`;
      const result = JSON.parse(r.stdout);
      archives[platform] = await add(out, {
        kind: 'archive',
        platform,
        signed: result.signed ? true : null,
        signature: result.signed ? 'ed25519 manifest' : null,
      });
      if (archives[platform].sha256 !== result.sha256)
        throw new Error(`${out}: pack reported sha256 ${result.sha256}, the file has ${archives[platform].sha256}`);
    }
    if (signKey) {
      const pub = join(outDir, `${app.name}-manifest-key.pub.pem`);
      await writeFile(pub, publicKeyOf(signKey));
      await add(pub, { kind: 'public-key' });
    }
    return {
      note: Object.values(archives)
        .map((a) => a.name)
        .join(', '),
    };
  });

  // 5. upgrader executables (the win32 one signed: it runs as SYSTEM from the MSI)
  let winExe = null;
  await progress.step('upgrader executables (sign the Windows upgrader)', async () => {
    const linuxSea = join(seaDir, SEA_NAMES['linux-x64']);
    if (existsSync(linuxSea)) {
      await copyIfChanged(linuxSea, join(outDir, SEA_NAMES['linux-x64']));
      await add(join(outDir, SEA_NAMES['linux-x64']), { kind: 'upgrader', platform: 'linux-x64' });
    }
    const winSea = join(seaDir, SEA_NAMES['win32-x64']);
    if (!existsSync(winSea)) {
      progress.warn(`${winSea} is missing: no Windows upgrader, no installers`);
      return { note: 'no win32 executable' };
    }
    const dest = join(outDir, SEA_NAMES['win32-x64']);
    const key = hashOf('upgrader', (await hashFile(winSea)).sha256, signingIdentity(signing));
    const fresh = await cache.fresh('upgrader-win32', key);
    if (!fresh) {
      const tmp = `${dest}.tmp-${process.pid}`;
      await copyFile(winSea, tmp);
      if (signing) await signWindowsFiles([tmp], signing);
      await rename(tmp, dest);
      await cache.record('upgrader-win32', key, [dest]);
    }
    winExe = await add(dest, {
      kind: 'upgrader',
      platform: 'win32-x64',
      signed: Boolean(signing),
      signature: signing ? 'authenticode' : null,
    });
    return { skipped: Boolean(fresh), note: signing ? 'signed' : 'UNSIGNED' };
  });

  // 6. installers, MSI, NSIS and Inno Setup side by side (makensis and ISCC are the slow ones)
  const installerParts = [];
  /** The uninstaller inside an installer: signed (a copy kept beside the release) or not. */
  const uninstallerPart = async (name, inAsset, uninstaller) =>
    signing && existsSync(uninstaller)
      ? {
          name,
          in: inAsset,
          signed: true,
          signature: 'authenticode',
          copy: relative(outDir, uninstaller),
          sha256: (await hashFile(uninstaller)).sha256,
        }
      : { name, in: inAsset, signed: false, signature: null, copy: null, sha256: null };
  await progress.step('build installers (MSI, NSIS, Inno Setup)', async () => {
    const why = !payloads['win32-x64']
      ? 'no win32-x64 payload'
      : !winExe
        ? 'no Windows upgrader'
        : !app.installers
          ? `${app.file} has no productName/manufacturer/upgradeCode/installDirName`
          : null;
    if (why) {
      progress.warn(`installers skipped: ${why}`);
      return { note: 'skipped' };
    }
    if (msiVersion(version) !== version)
      progress.warn(`MSI/NSIS version is ${msiVersion(version)}: Windows Installer versions have no pre-release part`);
    const { file: descriptionFile, description } = await writeDescription({
      file: join(work, 'installer', 'description.json'),
      app,
      version,
      payloadDir: payloads['win32-x64'],
      upgraderExe: winExe.file,
    });
    const common = hashOf(
      description,
      winExe.sha256,
      await treeHash(payloads['win32-x64']),
      await treeHash(join(repoRoot, 'packages/installer-hooks/dist')),
      signingIdentity(signing),
    );
    const base = `${app.name}-${version}-win32-x64`;
    const jobs = [];
    let reused = 0;
    if (await hasTool('wixl')) {
      jobs.push(
        (async () => {
          const out = join(outDir, `${base}.msi`);
          const key = hashOf('msi', common);
          if (await cache.fresh('msi', key)) reused++;
          else {
            cache.forget('msi');
            await buildMsiFile({ repoRoot, descriptionFile, outFile: out, workDir: join(work, 'msi') });
            if (signing) await signWindowsFiles([out], signing);
            await cache.record('msi', key, [out]);
          }
          return add(out, { kind: 'msi', platform: 'win32-x64', signed: Boolean(signing), signature: signing ? 'authenticode' : null });
        })(),
      );
    } else progress.warn('wixl is not installed (apt-get install wixl msitools): no MSI');
    if (await hasTool('makensis')) {
      jobs.push(
        (async () => {
          const out = join(outDir, `${base}-setup.exe`);
          const recordDir = join(work, 'nsis-signed');
          const key = hashOf('nsis', common, readFileSync(join(repoRoot, 'installers/nsis/example.nsi')));
          const fresh = await cache.fresh('nsis', key);
          if (fresh) reused++;
          else {
            cache.forget('nsis');
            await buildNsisFile({
              repoRoot,
              descriptionFile,
              outFile: out,
              workDir: join(work, 'nsis'),
              sign: Boolean(signing),
              recordDir: signing ? recordDir : null,
            });
            await cache.record('nsis', key, signing ? [out, join(recordDir, 'uninstall.exe')] : [out]);
          }
          const a = await add(out, {
            kind: 'nsis',
            platform: 'win32-x64',
            signed: Boolean(signing),
            signature: signing ? 'authenticode' : null,
          });
          installerParts.push(await uninstallerPart('uninstall.exe', a.name, join(recordDir, 'uninstall.exe')));
          return a;
        })(),
      );
    } else progress.warn('makensis is not installed (apt-get install nsis): no NSIS installer');
    const innoWhy = await innoUnavailableReason(repoRoot);
    if (!innoWhy) {
      jobs.push(
        (async () => {
          const out = join(outDir, `${base}-inno-setup.exe`);
          const recordDir = join(work, 'inno-signed');
          const key = hashOf('inno', common);
          const fresh = await cache.fresh('inno', key);
          if (fresh) reused++;
          else {
            cache.forget('inno');
            await buildInnoFile({
              repoRoot,
              description: { ...description, payloadDir: payloads['win32-x64'], upgraderExe: winExe.file },
              outFile: out,
              workDir: join(work, 'inno'),
              signing,
              recordDir: signing ? recordDir : null,
            });
            await cache.record('inno', key, signing ? [out, join(recordDir, 'uninstall.exe')] : [out]);
          }
          const a = await add(out, {
            kind: 'inno',
            platform: 'win32-x64',
            signed: Boolean(signing),
            signature: signing ? 'authenticode' : null,
          });
          installerParts.push(await uninstallerPart('unins000.exe', a.name, join(recordDir, 'uninstall.exe')));
          return a;
        })(),
      );
    } else progress.warn(`no Inno Setup installer: ${innoWhy}`);
    await Promise.all(jobs);
    installerParts.sort((a, b) => (a.in < b.in ? -1 : 1));
    return { skipped: jobs.length > 0 && reused === jobs.length, note: signing ? 'signed (installer and uninstaller)' : 'UNSIGNED' };
  });

  // 7. npm tarballs
  await progress.step('npm pack (core, upgrader, installer-hooks)', async () => {
    const r = await sh`npm pack --json --pack-destination ${outDir} ${NPM_PACKAGES.flatMap((p) => ['-w', p])}`;
    const packed = JSON.parse(r.stdout);
    for (const p of packed) await add(join(outDir, p.filename), { kind: 'npm', package: p.name, packageVersion: p.version });
    return { note: packed.map((p) => p.filename).join(', ') };
  });

  // 8. feed + SHA256SUMS
  /** @type {Awaited<ReturnType<typeof writeFeeds>>} */
  let feed;
  await progress.step('write feed.json and SHA256SUMS', async () => {
    feed = await writeFeeds({
      name: app.name,
      version,
      assets: Object.entries(archives).map(([platform, a]) => ({ platform, file: a.file, size: a.size, sha256: a.sha256 })),
      outDir,
      createChannel: opts.out === undefined,
    });
    for (const w of feed.warnings) progress.warn(w);
    await writeSha256Sums(outDir, artifacts);
    return { note: `releases listed: ${feed.versions.join(', ')}` };
  });

  // 9. summary
  const unsignedWindows = artifacts.filter((a) => a.signed === false).map((a) => a.name);
  const summary = {
    name: app.name,
    version,
    outDir,
    upgraderVersion: seaManifest.version,
    signing: {
      windows: signing ? 'authenticode' : null,
      certificate: signing ? basename(signing.certificateFile) : null,
      timestampServer: signing?.timestampServer ?? null,
      manifests: signKey ? 'ed25519' : null,
    },
    artifacts: [...artifacts].sort((a, b) => (a.name < b.name ? -1 : 1)).map(({ file, ...a }) => a),
    installerParts,
    payloadFiles,
    unsigned: [
      ...unsignedWindows,
      ...installerParts.filter((p) => !p.signed).map((p) => `${p.name} (in ${p.in})`),
      ...payloadFiles.filter((f) => !f.signed).map((f) => `${f.file} (payload ${f.platform})`),
    ],
    feed: { file: relative(outDir, feed.feedFile), channel: feed.channelFile, versions: feed.versions },
    warnings: progress.warnings,
    steps: progress.timings,
    durationMs: Date.now() - started,
  };
  await progress.step('write summary.json', async () => {
    await writeSummary(outDir, summary);
    return { note: 'summary.json' };
  });
  return summary;
}

/** The closing report: the artifact table, the installer parts, the warnings. */
export function renderReport(summary) {
  const lines = ['', renderTable(summary.artifacts)];
  for (const p of summary.installerParts)
    lines.push(`${p.name} inside ${p.in}: ${p.signed ? `signed (${p.signature}; copy at ${p.copy})` : 'NOT signed'}`);
  for (const f of summary.payloadFiles ?? [])
    lines.push(`payload ${f.platform} ${f.file}: ${f.signed ? `signed (${f.signature}) ${f.sha256}` : 'NOT signed'}`);
  lines.push(
    '',
    `feed: ${join(summary.outDir, summary.feed.file)} (${summary.feed.versions.join(', ')})${summary.feed.channel ? `; channel feed ${summary.feed.channel}` : ''}`,
  );
  lines.push(`summary: ${join(summary.outDir, 'summary.json')}; checksums: ${join(summary.outDir, 'SHA256SUMS')}`);
  if (summary.unsigned.length) lines.push('', `WARNING: unsigned Windows artifacts: ${summary.unsigned.join(', ')}`);
  lines.push(`done in ${(summary.durationMs / 1000).toFixed(1)} s`);
  return `${lines.join('\n')}\n`;
}
