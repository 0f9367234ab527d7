import { parseArgs } from 'node:util';
import { LlmUpgradeError, parseDuration } from '@llm-upgrade/core';

export const COMMANDS = ['status', 'stop', 'sweep', 'holders', 'apply', 'rollback', 'recover', 'check', 'pack'] as const;
export type CommandName = (typeof COMMANDS)[number];

/** Options common to every command, after parsing. */
export interface CommonOptions {
  json: boolean;
  quiet: boolean;
  /** Never prompt; implied when stdin is not a TTY. */
  yes: boolean;
  dryRun: boolean;
  logFile: string | undefined;
  installDirs: string[];
  profile: string | undefined;
  graceMs: number;
  timeoutMs: number;
}

export interface ParsedCommand {
  command: CommandName;
  positionals: string[];
  common: CommonOptions;
  /** Command-specific options, typed loosely here and validated by each command. */
  values: Record<string, string | boolean | string[] | undefined>;
}

export type ParseOutcome = { kind: 'help'; command?: CommandName } | { kind: 'version' } | { kind: 'run'; parsed: ParsedCommand };

const optionSpec = {
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  yes: { type: 'boolean', short: 'y' },
  'dry-run': { type: 'boolean' },
  'log-file': { type: 'string' },
  'install-dir': { type: 'string', multiple: true },
  profile: { type: 'string' },
  grace: { type: 'string' },
  timeout: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  // apply / check / pack / rollback
  feed: { type: 'string' },
  'allow-downgrade': { type: 'boolean' },
  'public-key': { type: 'string' },
  name: { type: 'string' },
  'package-version': { type: 'string' },
  platform: { type: 'string' },
  'sign-key': { type: 'string' },
  out: { type: 'string' },
  'no-restart': { type: 'boolean' },
  adopt: { type: 'boolean' },
  smoke: { type: 'string' },
  'replace-product': { type: 'boolean' },
  'to-empty': { type: 'boolean' },
  'allow-insecure-redirect': { type: 'boolean' },
} as const;

function usage(message: string): LlmUpgradeError {
  return new LlmUpgradeError({ code: 'ERR_USAGE', message, hint: 'Run `llm-upgrade --help` for the commands and options.', phase: 'usage', changed: false });
}

/**
 * `pack` takes `--version V` for the package version, while `--version` alone prints ours;
 * rewrite pack's `--version V` to `--package-version V` before parsing.
 */
function normalisePackVersion(argv: string[]): string[] {
  if (argv[0] !== 'pack') return argv;
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--version' && i + 1 < argv.length && !argv[i + 1]!.startsWith('-')) {
      out.push('--package-version', argv[++i]!);
    } else if (a.startsWith('--version=')) {
      out.push(`--package-version=${a.slice('--version='.length)}`);
    } else out.push(a);
  }
  return out;
}

export function parseCommandLine(argv: string[], stdinIsTty: boolean): ParseOutcome {
  let parsed;
  try {
    parsed = parseArgs({ args: normalisePackVersion(argv), options: optionSpec, allowPositionals: true, strict: true });
  } catch (e) {
    throw usage((e as Error).message);
  }
  const { values, positionals } = parsed;
  const first = positionals[0];
  if (values.version && !first) return { kind: 'version' };
  if (!first || first === 'help') {
    const topic = positionals[1];
    return { kind: 'help', ...(topic && isCommand(topic) ? { command: topic } : {}) };
  }
  if (!isCommand(first)) throw usage(`unknown command "${first}"`);
  if (values.help) return { kind: 'help', command: first };

  const common: CommonOptions = {
    json: values.json ?? false,
    quiet: values.quiet ?? false,
    yes: (values.yes ?? false) || !stdinIsTty,
    dryRun: values['dry-run'] ?? false,
    logFile: values['log-file'],
    installDirs: values['install-dir'] ?? [],
    profile: values.profile,
    graceMs: values.grace ? parseDuration(values.grace, '--grace') : 5_000,
    timeoutMs: values.timeout ? parseDuration(values.timeout, '--timeout') : 30_000,
  };
  return { kind: 'run', parsed: { command: first, positionals: positionals.slice(1), common, values } };
}

function isCommand(s: string): s is CommandName {
  return (COMMANDS as readonly string[]).includes(s);
}

export const HELP: Record<CommandName | 'main', string> = {
  main: `llm-upgrade — safe upgrades of local LLM runners (Ollama and the like)

Usage: llm-upgrade <command> [scope] [options]

Commands:
  status    installed version, process forest, orphans, holders
  stop      stop everything that belongs to the install, orphans included
  sweep     kill orphaned engines only; a healthy server keeps running
  holders   list processes holding files under the install
  apply     upgrade from a package (.tar.gz, .zip, directory) or --feed URL
  rollback  go back to the version kept by the last upgrade
  recover   finish an interrupted upgrade by rolling it back
  check     show what a release feed offers
  pack      build a package that apply consumes

Scope:   --install-dir PATH (repeatable) | --profile NAME|FILE   (default: --profile ollama)
Common:  --json  --log-file PATH  --quiet  --yes  --dry-run  --grace 5s  --timeout 30s
Exit:    0 done, 1 internal error, 2 bad input, 3 still running or held,
         4 post-check failed and rolled back, 5 another upgrade holds the lock
Run "llm-upgrade <command> --help" for a command's options.`,
  status: 'llm-upgrade status [scope] [--json]\n  Installed version, the process forest (roles, orphans), holders and GPU memory.',
  stop: 'llm-upgrade stop [scope] [--grace 5s] [--timeout 30s] [--dry-run] [--json]\n  Stops services, supervisors, servers and engines (orphans included), forces what ignores\n  the polite request after --grace, and verifies no file under the install is held.\n  Exit 3 names every survivor and holder.',
  sweep: 'llm-upgrade sweep [scope] [--dry-run] [--json]\n  Kills orphaned engines only (the "free my VRAM" command); a healthy server keeps running.',
  holders: 'llm-upgrade holders [scope] [--json]\n  Every process with a file under the install as exe, open file, mapping, cwd or root.\n  "complete": false when some processes could not be read (listed under "unknown").',
  apply: 'llm-upgrade apply <package|dir|--feed URL> [scope] [--allow-downgrade] [--public-key FILE] [--adopt]\n                  [--replace-product] [--allow-insecure-redirect] [--dry-run] [--yes] [--json] [--no-restart]\n  Verifies and stages the new version, stops the install, swaps the files as one journaled\n  transaction, post-checks and health-checks, and rolls back on any failure (exit 4).\n  --adopt takes over a directory llm-upgrade did not install although it holds files the\n  package does not list (they move to the backup); without it such a directory is refused.\n  --replace-product installs a package of another product than the installed one (exit 2 without).\n  --allow-insecure-redirect follows an https feed redirecting to http (loopback tests only).',
  rollback: 'llm-upgrade rollback [scope] [--to-empty] [--json]\n  Restores the version the last committed upgrade replaced. After a fresh install that is\n  nothing: refused unless --to-empty (then the package\'s files go; files you added stay).',
  recover: 'llm-upgrade recover [scope] [--json]\n  Rolls back an upgrade that was interrupted (crash, kill, power loss). Idempotent.',
  check: 'llm-upgrade check --feed URL [scope] [--json]\n  Shows the newest release in the feed for this platform and whether it is newer than installed.',
  pack: 'llm-upgrade pack DIR --name N --version V [--platform P] [--sign-key FILE] [--smoke "bin/x --version"] --out FILE\n  Writes llm-upgrade.json (sizes, SHA-256, modes; --smoke: the command apply runs to check the new\n  version) and the archive (.tar.gz or .zip by --out), with llm-upgrade.json.sig when --sign-key is given.',
};
