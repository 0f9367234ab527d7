import { createRequire } from 'node:module';

/** Our own version; the bundled single executable has it inlined by esbuild's `define`. */
declare const __LLM_UPGRADE_VERSION__: string | undefined;

function readVersion(): string {
  if (typeof __LLM_UPGRADE_VERSION__ === 'string') return __LLM_UPGRADE_VERSION__;
  try {
    return (createRequire(import.meta.url)('../package.json') as { version: string }).version;
  } catch {
    return '0.0.0-unknown';
  }
}

export const VERSION = readVersion();
