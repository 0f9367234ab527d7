import { errors } from '@llm-upgrade/core';
import { COMMANDS, HELP, optionsFor, optionTable, type CommandName } from './args.js';
import { closest } from './suggest.js';

export const SHELLS = ['bash', 'zsh', 'fish', 'powershell'] as const;
export type Shell = (typeof SHELLS)[number];

interface Spec {
  commands: { name: string; about: string }[];
  /** Per command: its long options, `--name`. */
  options: Record<string, string[]>;
  /** Options followed by a path. */
  pathOptions: string[];
  /** Options followed by some other value (no completion for it). */
  valueOptions: string[];
}

/** Everything a script completes, read from the option table and the help texts in args.ts. */
export function completionSpec(): Spec {
  const table = optionTable();
  const about = (name: string) => new RegExp(`^ {2}${name} +(.+)$`, 'm').exec(HELP.main)?.[1]?.trim() ?? '';
  const commands = [...COMMANDS.map((name) => ({ name, about: about(name) })), { name: 'help', about: 'show help for a command' }];
  const options: Record<string, string[]> = {};
  // --package-version is pack's --version V after normalisePackVersion; complete what users type.
  for (const c of COMMANDS)
    options[c] = optionsFor(c as CommandName)
      .filter((n) => n !== 'package-version')
      .map((n) => `--${n}`);
  const valued = table.filter((o) => o.takesValue);
  // Paths by name, so a new --cache-dir completes files without a change here.
  const isPath = (n: string) => /(^|-)(dir|file|key|out|profile)$/.test(n);
  return {
    commands,
    options,
    pathOptions: valued.filter((o) => isPath(o.name)).map((o) => `--${o.name}`),
    valueOptions: valued.filter((o) => !isPath(o.name)).map((o) => `--${o.name}`),
  };
}

const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function bash(s: Spec): string {
  const cases = Object.entries(s.options)
    .map(([c, o]) => `    ${c}) opts=${sq(o.join(' '))} ;;`)
    .join('\n');
  return `# llm-upgrade completion for bash. Load it with: source <(llm-upgrade completion bash)
_llm_upgrade() {
  local cur prev cmd opts i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  cmd=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in
      ${[...s.pathOptions, ...s.valueOptions].join('|')}) ((i++)) ;;
      -*) ;;
      *) cmd="\${COMP_WORDS[i]}"; break ;;
    esac
  done
  case "$prev" in
    ${s.pathOptions.join('|')}) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    ${s.valueOptions.join('|')}) COMPREPLY=(); return ;;
  esac
  if [[ -z "$cmd" ]]; then
    if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W '--help --version' -- "$cur"))
    else COMPREPLY=($(compgen -W ${sq(s.commands.map((c) => c.name).join(' '))} -- "$cur")); fi
    return
  fi
  opts=''
  case "$cmd" in
${cases}
  esac
  if [[ "$cur" == -* ]]; then COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  elif [[ "$cmd" == completion ]]; then COMPREPLY=($(compgen -W ${sq(SHELLS.join(' '))} -- "$cur"))
  elif [[ "$cmd" == help ]]; then COMPREPLY=($(compgen -W ${sq(COMMANDS.join(' '))} -- "$cur"))
  else COMPREPLY=($(compgen -f -- "$cur")); fi
}
complete -o filenames -F _llm_upgrade llm-upgrade
`;
}

function zsh(s: Spec): string {
  const esc = (t: string) => t.replace(/:/g, '\\:');
  const cases = Object.entries(s.options)
    .map(([c, o]) => `    ${c}) opts=(${o.join(' ')}) ;;`)
    .join('\n');
  return `#compdef llm-upgrade
# llm-upgrade completion for zsh. Load it with: source <(llm-upgrade completion zsh)
_llm_upgrade() {
  local -a commands opts
  local cmd i
  commands=(
${s.commands.map((c) => `    ${sq(`${c.name}:${esc(c.about)}`)}`).join('\n')}
  )
  for ((i = 2; i < CURRENT; i++)); do
    case \${words[i]} in
      ${[...s.pathOptions, ...s.valueOptions].join('|')}) ((i++)) ;;
      -*) ;;
      *) cmd=\${words[i]}; break ;;
    esac
  done
  case \${words[CURRENT-1]} in
    ${s.pathOptions.join('|')}) _files; return ;;
    ${s.valueOptions.join('|')}) _message 'value'; return ;;
  esac
  if [[ -z $cmd ]]; then
    if [[ $PREFIX == -* ]]; then compadd -- --help --version; else _describe 'command' commands; fi
    return
  fi
  case $cmd in
${cases}
  esac
  if [[ $PREFIX == -* ]]; then compadd -- $opts
  elif [[ $cmd == completion ]]; then compadd -- ${SHELLS.join(' ')}
  elif [[ $cmd == help ]]; then compadd -- ${COMMANDS.join(' ')}
  else _files; fi
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _llm_upgrade "$@"; else compdef _llm_upgrade llm-upgrade; fi
`;
}

function fish(s: Spec): string {
  const table = new Map(optionTable().map((o) => [`--${o.name}`, o]));
  const lines = ['# llm-upgrade completion for fish. Load it with: llm-upgrade completion fish | source', 'complete -c llm-upgrade -f'];
  for (const c of s.commands) lines.push(`complete -c llm-upgrade -n __fish_use_subcommand -a ${c.name} -d ${sq(c.about)}`);
  lines.push(
    `complete -c llm-upgrade -n __fish_use_subcommand -l help -s h`,
    `complete -c llm-upgrade -n __fish_use_subcommand -l version -s v`,
  );
  for (const [c, opts] of Object.entries(s.options)) {
    for (const o of opts) {
      const info = table.get(o);
      const value = s.pathOptions.includes(o) ? ' -r -F' : info?.takesValue ? ' -x' : '';
      lines.push(
        `complete -c llm-upgrade -n '__fish_seen_subcommand_from ${c}' -l ${o.slice(2)}${info?.short ? ` -s ${info.short}` : ''}${value}`,
      );
    }
  }
  lines.push(`complete -c llm-upgrade -n '__fish_seen_subcommand_from apply pack' -F`);
  lines.push(`complete -c llm-upgrade -n '__fish_seen_subcommand_from completion' -a ${sq(SHELLS.join(' '))}`);
  lines.push(`complete -c llm-upgrade -n '__fish_seen_subcommand_from help' -a ${sq(COMMANDS.join(' '))}`);
  return `${lines.join('\n')}\n`;
}

function powershell(s: Spec): string {
  const ps = (t: string) => `'${t.replace(/'/g, "''")}'`;
  const table = Object.entries(s.options)
    .map(([c, o]) => `    ${ps(c)} = @(${o.map(ps).join(', ')})`)
    .join('\n');
  return `# llm-upgrade completion for PowerShell. Load it with:
#   llm-upgrade completion powershell | Out-String | Invoke-Expression
Register-ArgumentCompleter -Native -CommandName llm-upgrade, llm-upgrade.exe -ScriptBlock {
  param($wordToComplete, $commandAst, $cursorPosition)
  $commands = @(${s.commands.map((c) => ps(c.name)).join(', ')})
  $options = @{
${table}
  }
  $valued = @(${[...s.pathOptions, ...s.valueOptions].map(ps).join(', ')})
  $words = @($commandAst.CommandElements | Select-Object -Skip 1 | ForEach-Object { $_.ToString() })
  $cmd = $null
  for ($i = 0; $i -lt $words.Count; $i++) {
    $w = $words[$i]
    if ($w -eq $wordToComplete -and $i -eq $words.Count - 1) { break }
    if ($valued -contains $w) { $i++; continue }
    if ($w -notlike '-*') { $cmd = $w; break }
  }
  if (-not $cmd) {
    $candidates = if ($wordToComplete -like '-*') { @('--help', '--version') } else { $commands }
  } elseif ($wordToComplete -like '-*') {
    $candidates = $options[$cmd]
  } elseif ($cmd -eq 'completion') {
    $candidates = @(${SHELLS.map(ps).join(', ')})
  } elseif ($cmd -eq 'help') {
    $candidates = @(${COMMANDS.map(ps).join(', ')})
  } else {
    return
  }
  $candidates | Where-Object { $_ -like "$wordToComplete*" } | ForEach-Object {
    [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_)
  }
}
`;
}

export function completionScript(shell: string): string {
  const spec = completionSpec();
  switch (shell) {
    case 'bash':
      return bash(spec);
    case 'zsh':
      return zsh(spec);
    case 'fish':
      return fish(spec);
    case 'powershell':
    case 'pwsh':
      return powershell(spec);
    default: {
      const guess = closest(shell, SHELLS);
      throw errors.usageError({
        message: `no completion for "${shell}"${guess ? `; did you mean ${guess}?` : ''}`,
        hint: `llm-upgrade completion ${SHELLS.join('|')}`,
        phase: 'usage',
        changed: false,
      });
    }
  }
}
