import { existsSync } from 'node:fs';
import { currentOs, type Profile, type ScopedProcess } from '@llm-upgrade/core';
import { healthUrlFor, recordProcesses } from './transaction/record.js';

/** Where systemd looks for system units (systemd.unit(5)), most specific first. */
const SYSTEMD_UNIT_DIRS = [
  '/etc/systemd/system',
  '/run/systemd/system',
  '/usr/local/lib/systemd/system',
  '/usr/lib/systemd/system',
  '/lib/systemd/system',
];

export interface ServicePresence {
  /** Unit name, e.g. `ollama.service`. */
  name: string;
  manager: 'systemd';
  present: boolean;
  /** The unit file found, when present. */
  unitFile: string | null;
}

export interface ServerAddress {
  /** Where the server answers (its health URL). */
  url: string;
  /** socket: where it listens now; OLLAMA_HOST: from its environment (/proc/PID/environ); default: the profile's address (nothing runs). */
  source: 'socket' | 'OLLAMA_HOST' | 'profile' | 'default';
  /** OLLAMA_HOST as the running server has it, when set. */
  ollamaHost: string | null;
  pid: number | null;
}

/** The profile's systemd units on Linux and whether a unit file for each exists (`unitDirs` for tests). */
export function servicePresence(profile: Profile, unitDirs: readonly string[] = SYSTEMD_UNIT_DIRS): ServicePresence[] {
  if (currentOs() !== 'linux') return [];
  return (profile.services?.systemd ?? []).map((n) => {
    const name = n.endsWith('.service') ? n : `${n}.service`;
    const unitFile = unitDirs.map((d) => `${d}/${name}`).find((p) => existsSync(p)) ?? null;
    return { name, manager: 'systemd' as const, present: unitFile !== null, unitFile };
  });
}

/**
 * Where the install's server listens: its sockets when it runs (else OLLAMA_HOST from its
 * environment), the profile's health URL when nothing runs (Ollama's 127.0.0.1:11434). The same
 * rule the health gate of an upgrade uses.
 */
export async function serverAddress(running: readonly ScopedProcess[], profile: Profile): Promise<ServerAddress | null> {
  const recorded = await recordProcesses(running);
  const ollamaHost = recorded.map((r) => r.env?.OLLAMA_HOST).find((v) => v !== undefined && v !== '') ?? null;
  const server = recorded.find((r) => r.role === 'server') ?? recorded[0] ?? null;
  const target = healthUrlFor(recorded, profile);
  if (target && recorded.length > 0) return { url: target.url, source: target.source, ollamaHost, pid: server?.pid ?? null };
  if (!profile.healthUrl) return null;
  return { url: profile.healthUrl, source: 'default', ollamaHost: null, pid: null };
}
