import * as errors from '../error-factories.js';
import type { PlatformBackend } from './backend.js';
import type { GuardBackend } from '../guard/types.js';

export type { PlatformBackend, SignalOutcome, ForceKillContext } from './backend.js';

let cached: PlatformBackend | undefined;

/** The only `process.platform` switch in the project. */
export async function getBackend(platform: NodeJS.Platform = process.platform): Promise<PlatformBackend> {
  if (cached && cached.os === platform) return cached;
  switch (platform) {
    case 'linux':
      cached = new (await import('./linux/index.js')).LinuxBackend();
      break;
    case 'win32':
      cached = new (await import('./win32/index.js')).Win32Backend();
      break;
    case 'darwin':
      cached = new (await import('./darwin/index.js')).DarwinBackend();
      break;
    default:
      throw errors.unsupportedPlatformError({
        message: `platform ${platform} is not supported`,
        hint: 'llm-upgrade runs on Linux, Windows and macOS.',
        phase: 'status',
        changed: false,
      });
  }
  return cached;
}

let cachedGuard: GuardBackend | undefined;

/** The OS part of `run`: subreaper + pdeathsig (Linux), Job Object (Windows), process group (macOS). */
export async function getGuardBackend(platform: NodeJS.Platform = process.platform): Promise<GuardBackend> {
  if (cachedGuard && cachedGuard.os === platform) return cachedGuard;
  switch (platform) {
    case 'linux':
      cachedGuard = new (await import('./linux/guard.js')).LinuxGuard();
      break;
    case 'win32':
      cachedGuard = new (await import('./win32/job.js')).Win32Guard(await getBackend(platform));
      break;
    case 'darwin':
      cachedGuard = new (await import('./darwin/guard.js')).DarwinGuard(await getBackend(platform));
      break;
    default:
      // getBackend throws ERR_UNSUPPORTED_PLATFORM for this platform.
      await getBackend(platform);
  }
  if (!cachedGuard) throw new Error(`no guard backend for ${platform}`);
  return cachedGuard;
}

/** Platform key used in feeds and manifests: linux-x64, win32-x64, darwin-arm64... */
export function platformKey(platform: NodeJS.Platform = process.platform, arch: string = process.arch): string {
  return `${platform}-${arch}`;
}

export function currentOs(): 'linux' | 'win32' | 'darwin' {
  const p = process.platform;
  if (p === 'linux' || p === 'win32' || p === 'darwin') return p;
  throw errors.unsupportedPlatformError({
    message: `platform ${p} is not supported`,
    hint: 'llm-upgrade runs on Linux, Windows and macOS.',
    phase: 'status',
    changed: false,
  });
}
