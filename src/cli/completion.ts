// Bash completion generated from the one CLI schema: command names, each command's flags, and file
// names after flags whose value is a path or device.
import type { Command } from "./command.js";

/** Placeholders of flag values that name files or devices (completed with file names). */
const PATH_VALUES: ReadonlySet<string> = new Set(["FILE", "DIR", "DEV", "PATH", "SPEC"]);

/** Only names bash can hold in a word list unquoted (the schema's own names always are). */
function word(text: string): string {
  if (!/^[A-Za-z0-9_.:=+-]+$/.test(text)) throw new Error(`completion: "${text}" is not a plain word`);
  return text;
}

function flagsOf(command: Command): { all: string[]; valued: string[]; paths: string[] } {
  const all: string[] = ["--help"];
  const valued: string[] = [];
  const paths: string[] = [];
  for (const [name, spec] of Object.entries(command.options)) {
    const flags = [`--${word(name)}`, ...(spec.short ? [`-${word(spec.short)}`] : [])];
    all.push(...flags);
    if (spec.type === "string") valued.push(...flags);
    if (spec.type === "string" && spec.value && PATH_VALUES.has(spec.value)) paths.push(...flags);
  }
  return { all, valued, paths };
}

/** The bash completion script for `dmremap` (install as /usr/share/bash-completion/completions/dmremap). */
export function renderBashCompletion(commands: readonly Command[]): string {
  const names = commands.map((c) => word(c.name));
  const cases = commands.map((c) => {
    const f = flagsOf(c);
    return [
      `    ${c.name})`,
      `      flags="${f.all.join(" ")}"`,
      `      valued="${f.valued.join(" ")}"`,
      `      paths="${f.paths.join(" ")}"`,
      "      ;;",
    ].join("\n");
  });
  return `# bash completion for dmremap; generated from the CLI schema (src/cli/commands.ts), do not edit.
_dmremap() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  local prev=""
  if [[ $COMP_CWORD -gt 0 ]]; then prev="\${COMP_WORDS[COMP_CWORD-1]}"; fi
  local commands="${names.join(" ")}"
  if [[ $COMP_CWORD -le 1 ]]; then
    COMPREPLY=($(compgen -W "$commands help --help --version" -- "$cur"))
    return 0
  fi
  local flags="" valued="" paths=""
  case "\${COMP_WORDS[1]}" in
    help)
      COMPREPLY=($(compgen -W "$commands" -- "$cur"))
      return 0
      ;;
${cases.join("\n")}
    *)
      return 0
      ;;
  esac
  if [[ " $paths " == *" $prev "* ]]; then
    COMPREPLY=($(compgen -f -- "$cur"))
    return 0
  fi
  if [[ " $valued " == *" $prev "* ]]; then
    COMPREPLY=()
    return 0
  fi
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    return 0
  fi
  COMPREPLY=($(compgen -f -- "$cur"))
  return 0
}
complete -F _dmremap dmremap
`;
}
