import { parseArgs } from 'node:util';
import { type LlmUpgradeError, parseDuration, errors } from '@llm-upgrade/core';
import { closest } from './suggest.js';

export const COMMANDS = [
  'status',
  'stop',
  'sweep',
  'holders',
  'apply',
  'rollback',
  'recover',
  'check',
  'pack',
  'run',
  'watch',
  'completion',
] as const;
export type CommandName = (typeof COMMANDS)[number];

/** Options common to every command, after parsing. */
export interface CommonOptions {
  json: boolean;
  quiet: boolean;
  /** More detail in human output: every event, pids, paths. */
  verbose: boolean;
  /** Never prompt; implied when stdin is not a TTY. */
  yes: boolean;
  dryRun: boolean;
  logFile: string | undefined;
  installDirs: string[];
  profile: string | undefined;
  /** undefined when --grace was not given: the library's default for the command applies (stop 5 s, sweep 2 s...). */
  graceMs: number | undefined;
  timeoutMs: number | undefined;
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
  verbose: { type: 'boolean' },
  'exit-code': { type: 'boolean' },
  // apply / check / pack / rollback
  feed: { type: 'string' },
  checksums: { type: 'string' },
  'allow-downgrade': { type: 'boolean' },
  'public-key': { type: 'string' },
  name: { type: 'string' },
  'package-version': { type: 'string' },
  platform: { type: 'string' },
  'sign-key': { type: 'string' },
  out: { type: 'string' },
  'no-restart': { type: 'boolean' },
  adopt: { type: 'boolean' },
  // stop: a missing --install-dir is a fresh install with nothing to stop (installer hooks), not a typo
  'missing-ok': { type: 'boolean' },
  smoke: { type: 'string' },
  // watch
  'install-service': { type: 'boolean' },
  'uninstall-service': { type: 'boolean' },
  user: { type: 'boolean' },
  'replace-product': { type: 'boolean' },
  'to-empty': { type: 'boolean' },
  'allow-insecure-redirect': { type: 'boolean' },
  // --feed github:OWNER/REPO
  'github-api': { type: 'string' },
  pre: { type: 'boolean' },
} as const;

function usage(message: string, hint = 'Run `llm-upgrade --help` for the commands and options.'): LlmUpgradeError {
  return errors.usageError({ message, hint, phase: 'usage', changed: false });
}

/** A grace period longer than this is a typo, not a plan: the upgrade waits that long. */
const MAX_GRACE_MS = 3_600_000;

type OptionName = keyof typeof optionSpec;
const OPTION_NAMES = Object.keys(optionSpec) as OptionName[];

function didYouMean(input: string, candidates: readonly string[], prefix = ''): string {
  const best = closest(input, candidates);
  return best ? `; did you mean ${prefix}${best}?` : '';
}

/** Every option (long names) `command` documents, the common ones, and any option no help text mentions yet. */
export function optionsFor(command: CommandName): OptionName[] {
  const mentioned = (text: string, name: string) => new RegExp(`--${name}(?![\\w-])`).test(text);
  const documented = (name: string) => (Object.keys(HELP) as (keyof typeof HELP)[]).some((k) => k !== 'main' && mentioned(HELP[k], name));
  // pack's help shows `--version V`, which normalisePackVersion turns into --package-version.
  return OPTION_NAMES.filter((name) =>
    name === 'package-version'
      ? command === 'pack' || command === 'apply'
      : COMMON_OPTIONS.includes(name) || mentioned(HELP[command], name) || !documented(name),
  );
}

const COMMON_OPTIONS: readonly string[] = [
  'json',
  'quiet',
  'verbose',
  'yes',
  'dry-run',
  'log-file',
  'install-dir',
  'profile',
  'grace',
  'timeout',
  'help',
];

/**
 * parseArgs in strict mode says `Unknown option '--grce'. To specify a positional argument
 * starting with a '-', place it at the end of the command after '--', as in '-- "--grce"`; parse
 * leniently instead and refuse unknown options ourselves, naming the command and the likely option.
 */
function parseStrictly(args: string[]) {
  const parsed = parseArgs({ args, options: optionSpec, allowPositionals: true, strict: false, tokens: true });
  const command = parsed.positionals.find(isCommand);
  for (const t of parsed.tokens) {
    if (t.kind !== 'option') continue;
    const spec = (optionSpec as Record<string, { type: 'string' | 'boolean' }>)[t.name];
    if (!spec) {
      const known = command ? optionsFor(command) : OPTION_NAMES;
      const guess = t.rawName.startsWith('--') ? didYouMean(t.name, known, '--') || didYouMean(t.name, OPTION_NAMES, '--') : '';
      throw usage(
        `unknown option ${t.rawName}${command ? ` for ${command}` : ''}${guess}`,
        `Run \`llm-upgrade ${command ? `${command} ` : ''}--help\` for the options.`,
      );
    }
    if (spec.type === 'string' && (t.value === undefined || (!t.inlineValue && t.value.startsWith('-')))) {
      throw usage(`option ${t.rawName} needs a value`, `Write ${t.rawName} VALUE, or ${t.rawName}=VALUE for a value that starts with "-".`);
    }
    if (spec.type === 'boolean' && t.inlineValue) throw usage(`option ${t.rawName} takes no value`);
  }
  // Lenient parsing keeps unknown options in values; none are left by here.
  return parsed as unknown as {
    values: {
      [K in OptionName]?: (typeof optionSpec)[K] extends { type: 'string' }
        ? (typeof optionSpec)[K] extends { multiple: true }
          ? string[]
          : string
        : boolean;
    };
    positionals: string[];
  };
}

/**
 * `pack` takes `--version V` for the package version and `apply` for the version of archives
 * without a manifest, while `--version` alone prints ours; rewrite their `--version V` to
 * `--package-version V` before parsing (apply's only when V looks like a version, since apply
 * also takes archive paths).
 */
function normalisePackVersion(argv: string[]): string[] {
  if (argv[0] !== 'pack' && argv[0] !== 'apply') return argv;
  const takes = (v: string) => !v.startsWith('-') && (argv[0] === 'pack' || /^v?\d+\.\d+/.test(v));
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--version' && i + 1 < argv.length && takes(argv[i + 1]!)) {
      out.push('--package-version', argv[++i]!);
    } else if (a.startsWith('--version=')) {
      out.push(`--package-version=${a.slice('--version='.length)}`);
    } else out.push(a);
  }
  return out;
}

export function parseCommandLine(argv: string[], stdinIsTty: boolean): ParseOutcome {
  const { values, positionals } = parseStrictly(normalisePackVersion(argv));
  const first = positionals[0];
  if (values.version && !first) return { kind: 'version' };
  if (!first || first === 'help') {
    const topic = positionals[1];
    if (topic === undefined) return { kind: 'help' };
    if (!isCommand(topic))
      throw usage(`no help for "${topic}"${didYouMean(topic, COMMANDS)}`, `The topics are the commands: ${COMMANDS.join(', ')}.`);
    return { kind: 'help', command: topic };
  }
  if (!isCommand(first))
    throw usage(`unknown command "${first}"${didYouMean(first, COMMANDS)}`, `The commands are: ${COMMANDS.join(', ')}.`);
  if (values.help) return { kind: 'help', command: first };

  const common: CommonOptions = {
    json: values.json ?? false,
    quiet: values.quiet ?? false,
    verbose: values.verbose ?? false,
    yes: (values.yes ?? false) || !stdinIsTty,
    dryRun: values['dry-run'] ?? false,
    logFile: values['log-file'],
    installDirs: values['install-dir'] ?? [],
    profile: values.profile,
    graceMs: values.grace ? parseDuration(values.grace, '--grace', MAX_GRACE_MS) : undefined,
    timeoutMs: values.timeout ? parseDuration(values.timeout, '--timeout') : undefined,
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
  recover   finish an interrupted upgrade: forward if it committed, else back
  check     show what a release feed offers
  completion  print a shell completion script (bash, zsh, fish, powershell)
  pack      build a package that apply consumes
  run       run a command so that nothing it starts outlives it (-- CMD ARGS...)
  watch     keep watching the install and end engines orphaned by a dead frontend

Scope:   --install-dir PATH (repeatable) | --profile NAME|FILE   (default: --profile ollama)
Common:  --json  --log-file PATH  --quiet  --verbose  --yes  --dry-run  --grace 5s  --timeout 30s
Output:  results on stdout, progress and errors on stderr; --json: one JSON document on stdout.
         On a terminal, stop, sweep, apply and rollback show the plan and ask first (--yes: don't ask).
Exit:    0 done, 1 internal error, 2 bad input, 3 still running or held,
         4 post-check failed and rolled back, 5 another upgrade holds the lock,
         10 an update is available (check --exit-code only); 1 with ERR_ABORTED when you answer no
Run "llm-upgrade <command> --help" for a command's options.`,
  status: 'llm-upgrade status [scope] [--json]\n  Installed version, the process forest (roles, orphans), holders and GPU memory.',
  stop: 'llm-upgrade stop [scope] [--grace 5s] [--timeout 30s] [--dry-run] [--missing-ok] [--json]\n  Stops services, supervisors, servers and engines (orphans included), forces what ignores\n  the polite request after --grace, and verifies no file under the install is held.\n  Exit 3 names every survivor and holder. A missing --install-dir is exit 2 unless --missing-ok\n  (installers before a first install: nothing to stop). Exit 5 while an upgrade holds the lock.',
  sweep:
    'llm-upgrade sweep [scope] [--dry-run] [--json]\n  Kills orphaned engines only (the "free my VRAM" command); a healthy server keeps running.',
  holders:
    'llm-upgrade holders [scope] [--json]\n  Every process with a file under the install as exe, open file, mapping, cwd or root.\n  "complete": false when some processes could not be read (listed under "unknown").',
  apply:
    "llm-upgrade apply <package|dir|--feed URL|--feed github:OWNER/REPO[@TAG]> [scope] [--allow-downgrade] [--public-key FILE] [--adopt]\n       llm-upgrade apply ARCHIVE [ARCHIVE...] --checksums FILE|URL [--version V] [scope]\n                  [--replace-product] [--allow-insecure-redirect] [--github-api URL] [--pre] [--dry-run] [--yes] [--json] [--no-restart]\n  Verifies and stages the new version, stops the install, swaps the files as one journaled\n  transaction, post-checks and health-checks, and rolls back on any failure (exit 4).\n  --adopt takes over a directory llm-upgrade did not install although it holds files the\n  package does not list (they move to the backup); without it such a directory is refused.\n  --replace-product installs a package of another product than the installed one (exit 2 without).\n  --allow-insecure-redirect follows an https feed redirecting to http (loopback tests only).\n  ARCHIVE... --checksums: a vendor's own release archives (.tar.zst, .tgz, .zip; paths or URLs)\n  without an llm-upgrade.json, each checked against its line in the sha256sum file, laid onto the\n  install base first, add-ons after, as one transaction; --version V, else the staged binary says.\n  --feed github:OWNER/REPO installs the latest GitHub release (@TAG: that one; --pre: pre-releases too):\n  the profile's assets for this platform plus the add-ons the install has, verified against\n  sha256sum.txt and the API's digests. GITHUB_TOKEN is sent to the API when set; --github-api URL\n  for GitHub Enterprise (https://HOST/api/v3).",
  rollback:
    "llm-upgrade rollback [scope] [--to-empty] [--json]\n  Restores the version the last committed upgrade replaced. After a fresh install that is\n  nothing: refused unless --to-empty (then the package's files go; files you added stay).",
  recover:
    'llm-upgrade recover [scope] [--json]\n  Finishes an upgrade that was interrupted (crash, kill, power loss): a transaction that had\n  committed (every new file in place) rolls forward to the new version; one that had not rolls\n  back to the old version, and what ran before is started again. Idempotent.',
  check:
    "llm-upgrade check --feed URL|github:OWNER/REPO[@TAG] [scope] [--exit-code] [--github-api URL] [--pre] [--allow-insecure-redirect] [--json]\n  Shows the newest release in the feed for this platform and whether it is newer than installed.\n  A github: feed reads the repository's releases (GITHUB_TOKEN honoured) and lists the assets an upgrade would take.\n  --exit-code: exit 10 when an update is available, 0 when up to date (like `git diff --exit-code`).",
  run: "llm-upgrade run [--grace 2s] [--log-file F] -- CMD [ARGS...]\n  Starts CMD so that nothing it starts can outlive it (Linux: subreaper + pdeathsig + a watchdog;\n  Windows: a Job Object with KILL_ON_JOB_CLOSE). When CMD exits, what remains gets SIGTERM, then\n  after --grace the race-free force. SIGINT/SIGTERM/SIGHUP are forwarded to CMD. Exits with\n  CMD's status (128+N for signal N).",
  watch:
    'llm-upgrade watch [scope] [--grace 2s] [--log-file F] [--install-service|--uninstall-service [--user]]\n  Runs until SIGTERM (exit 0): whenever a frontend or server of the install dies, ends the engines\n  it orphaned (the sweep rules; healthy servers and shell-parented engines are left alone).\n  --install-service writes and enables a systemd unit (--user: a user unit) or, on Windows, a\n  scheduled task at logon; --uninstall-service removes it.',
  pack: 'llm-upgrade pack DIR --name N --version V [--platform P] [--sign-key FILE] [--smoke "bin/x --version"] --out FILE\n  Writes llm-upgrade.json (sizes, SHA-256, modes; --smoke: the command apply runs to check the new\n  version) and the archive (.tar.gz or .zip by --out), with llm-upgrade.json.sig when --sign-key is given.',
  completion:
    "llm-upgrade completion bash|zsh|fish|powershell\n  Prints a script that completes commands and their options. Load it from your shell's profile:\n    bash: source <(llm-upgrade completion bash)      zsh: source <(llm-upgrade completion zsh)\n    fish: llm-upgrade completion fish | source       PowerShell: llm-upgrade completion powershell | Out-String | Invoke-Expression",
};

export interface OptionInfo {
  name: string;
  short?: string;
  /** Takes a value (`--grace 5s`), as opposed to a flag. */
  takesValue: boolean;
}

/** The option table, for completion scripts: new options appear in them without further work. */
export function optionTable(): OptionInfo[] {
  return Object.entries(optionSpec as Record<string, { type: string; short?: string }>).map(([name, o]) => ({
    name,
    takesValue: o.type === 'string',
    ...(o.short ? { short: o.short } : {}),
  }));
}
