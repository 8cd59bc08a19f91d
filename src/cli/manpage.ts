// Man pages (roff) generated from the one CLI schema: dmremap(1) with every command, and one
// dmremap-COMMAND(1) page per command, each listing every flag with its default and the examples.
import type { Command, OptionSpec } from "./command.js";

/** Environment variables the CLI reads, for the ENVIRONMENT section. */
export const CLI_ENVIRONMENT: readonly (readonly [string, string])[] = [
  [
    "DMREMAP_API",
    "control API address of online commands when --api is not given (default tcp:127.0.0.1:7878).",
  ],
  ["DMREMAP_TOKEN", "the API bearer token itself (not a path), used when --token-file is not given."],
  [
    "DMREMAP_CONFIG",
    "config whose api.token_file online commands read when neither --token-file nor DMREMAP_TOKEN is given (default /etc/dmremap/dmremap.toml).",
  ],
  [
    "DMREMAP_DATA",
    "data directory of the demo (default ./data); online commands also look for its api-token file.",
  ],
  ["DMREMAP_LOCK_DIR", "directory of the per-set lock files (default /run/dmremap/locks)."],
  ["DMREMAP_LOG_LEVEL", "debug forces debug logging of serve and demo."],
  ["DMREMAP_DEBUG", "any value: print stack traces of errors."],
];

/** Escape text for roff: backslashes, and a leading dot or quote that roff would take as a request. */
export function roffEscape(text: string): string {
  return text
    .replace(/\\/g, "\\e")
    .replace(/-/g, "\\-")
    .replace(/^([.'])/gm, "\\&$1");
}

function optionLines(name: string, spec: OptionSpec): string[] {
  const flag = `${spec.short ? `\\-${spec.short}, ` : ""}\\-\\-${name}`;
  const head = spec.value ? `.BI "${flag} " ${spec.value}` : `.B ${flag}`;
  const notes = [
    ...(spec.multiple ? ["repeatable"] : []),
    ...(spec.default !== undefined ? [`default: ${spec.default}`] : []),
  ];
  return [".TP", head, roffEscape(spec.help + (notes.length > 0 ? ` (${notes.join("; ")})` : ""))];
}

function synopsis(command: Command): string {
  return `dmremap ${command.name} [options]${command.args ? ` ${command.args}` : ""}`;
}

/** The body of one command: summary, options, details (examples kept as written). */
function commandSection(command: Command): string[] {
  const lines = [roffEscape(command.summary)];
  const options = Object.entries(command.options);
  if (options.length > 0) {
    lines.push(".PP", "Options:");
    for (const [name, spec] of options) lines.push(...optionLines(name, spec));
  }
  if (command.details) lines.push(".PP", ".nf", roffEscape(command.details.trimEnd()), ".fi");
  return lines;
}

function header(title: string, version: string): string[] {
  return [
    `.\\" Generated from the dmremap CLI schema (src/cli/commands.ts); do not edit.`,
    `.TH ${title.toUpperCase()} 1 "" "dmremap ${version}" "dmremap manual"`,
  ];
}

const EXIT_STATUS = [
  ".SH EXIT STATUS",
  ".TP",
  ".B 0",
  "success",
  ".TP",
  ".B 1",
  "the operation failed (the message names the device, block or value)",
  ".TP",
  ".B 2",
  "the command line is wrong (unknown flag, missing argument, bad value)",
  ".TP",
  ".B 3",
  "no daemon answers at the control API address",
];

/** dmremap(1): overview, every command with every flag, environment, files, exit status. */
export function renderMainManPage(commands: readonly Command[], version: string): string {
  const lines = [
    ...header("dmremap", version),
    ".SH NAME",
    "dmremap \\- keep a disk with bad sectors in service by remapping bad blocks to spare devices",
    ".SH SYNOPSIS",
    ".B dmremap",
    ".I COMMAND",
    "[options] [arguments]",
    ".br",
    ".B dmremap \\-\\-version",
    ".br",
    ".B dmremap help",
    "[COMMAND]",
    ".SH DESCRIPTION",
    "dmremap presents a virtual block device whose healthy blocks stay on a failing main device and",
    "whose bad blocks are redirected, automatically and durably, to one or more spare devices. It runs",
    "in userspace and exports the result over NBD, so the Linux kernel (nbd\\-client), qemu and libnbd",
    "tools use it as a disk. Online commands talk to a running daemon through its control API;",
    "with \\-\\-spare they work offline on the set's metadata.",
    ".SH COMMANDS",
  ];
  for (const command of commands) {
    lines.push(`.SS "${roffEscape(synopsis(command))}"`, ...commandSection(command));
  }
  lines.push(".SH ENVIRONMENT");
  for (const [name, help] of CLI_ENVIRONMENT) lines.push(".TP", `.B ${name}`, roffEscape(help));
  lines.push(
    ".SH FILES",
    ".TP",
    ".I /etc/dmremap/dmremap.toml",
    "daemon configuration (every key: /usr/share/doc/dmremap/CONFIG.md)",
    ".TP",
    ".I /etc/dmremap/token",
    "API bearer token (mode 0600) named by api.token_file",
    ".TP",
    ".I /run/dmremap/",
    "NBD and API sockets, set locks",
    ...EXIT_STATUS,
    ".SH SEE ALSO",
    [
      ...commands.map((c) => `.BR dmremap\\-${c.name} (1),`),
      ".BR nbd\\-client (8),",
      ".BR nbdinfo (1),",
      ".BR qemu\\-img (1)",
    ].join("\n"),
    ".PP",
    "Documentation: /usr/share/doc/dmremap/ (OPERATIONS.md, CONFIG.md, SEMANTICS.md).",
  );
  return lines.join("\n") + "\n";
}

/** dmremap-COMMAND(1): one command's page. */
export function renderCommandManPage(command: Command, version: string): string {
  const lines = [
    ...header(`dmremap-${command.name}`, version),
    ".SH NAME",
    `dmremap\\-${command.name} \\- ${roffEscape(command.summary)}`,
    ".SH SYNOPSIS",
    `.B ${roffEscape(synopsis(command))}`,
    ".SH DESCRIPTION",
    ...commandSection(command),
    ...EXIT_STATUS,
    ".SH SEE ALSO",
    ".BR dmremap (1)",
  ];
  return lines.join("\n") + "\n";
}

/** Every man page by file name: dmremap.1 and dmremap-COMMAND.1 for each registered command. */
export function renderManPages(commands: readonly Command[], version: string): Map<string, string> {
  const pages = new Map<string, string>([["dmremap.1", renderMainManPage(commands, version)]]);
  for (const c of commands) pages.set(`dmremap-${c.name}.1`, renderCommandManPage(c, version));
  return pages;
}
