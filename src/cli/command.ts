// The shape of a CLI command: options as data (for parsing and help), and a run function.
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./errors.js";

/** One option of a command: parsed by node:util parseArgs, rendered in help. */
export interface OptionSpec {
  readonly type: "string" | "boolean";
  readonly multiple?: boolean;
  readonly short?: string;
  /** Placeholder in help, e.g. DEV. */
  readonly value?: string;
  readonly help: string;
  readonly default?: string;
}

/** What a command receives. */
export interface CommandContext {
  readonly values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  readonly positionals: string[];
  readonly out: NodeJS.WritableStream;
  readonly err: NodeJS.WritableStream;
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM); long-running commands await it. */
  readonly stopSignal: Promise<NodeJS.Signals>;
}

/** A subcommand of `dmremap`. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  /** Positional arguments in help, e.g. "BLOCK...". */
  readonly args?: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** More help text (examples), shown by `dmremap help NAME`. */
  readonly details?: string;
  run(ctx: CommandContext): Promise<number>;
}

/** Parse argv for a command; unknown flags and missing values become UsageErrors naming them. */
export function parseCommandArgs(
  command: Command,
  argv: string[],
): Pick<CommandContext, "values" | "positionals"> {
  const options: NonNullable<ParseArgsConfig["options"]> = {};
  for (const [name, spec] of Object.entries(command.options)) {
    options[name] = {
      type: spec.type,
      ...(spec.multiple ? { multiple: true } : {}),
      ...(spec.short ? { short: spec.short } : {}),
    };
  }
  try {
    const parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: parsed.values, positionals: parsed.positionals };
  } catch (err) {
    throw new UsageError(`dmremap ${command.name}: ${(err as Error).message}`);
  }
}

/** Help text of one command, generated from its option specs. */
export function commandHelp(command: Command): string {
  const lines = [`usage: dmremap ${command.name} [options]${command.args ? ` ${command.args}` : ""}`, ""];
  lines.push(command.summary, "");
  const entries = Object.entries(command.options);
  if (entries.length > 0) {
    lines.push("options:");
    const left = entries.map(([name, spec]) => {
      const flag = `${spec.short ? `-${spec.short}, ` : "    "}--${name}${spec.value ? ` ${spec.value}` : ""}`;
      return flag + (spec.multiple ? " (repeatable)" : "");
    });
    const width = Math.max(...left.map((l) => l.length)) + 2;
    entries.forEach(([, spec], i) => {
      const def = spec.default !== undefined ? ` (default ${spec.default})` : "";
      lines.push(`  ${left[i]!.padEnd(width)}${spec.help}${def}`);
    });
  }
  if (command.details) lines.push("", command.details.trimEnd());
  return lines.join("\n") + "\n";
}

/** Typed accessors for parsed values. */
export function stringOpt(ctx: Pick<CommandContext, "values">, name: string): string | undefined {
  const v = ctx.values[name];
  return typeof v === "string" ? v : undefined;
}
export function stringsOpt(ctx: Pick<CommandContext, "values">, name: string): string[] {
  const v = ctx.values[name];
  return Array.isArray(v) ? (v as string[]) : typeof v === "string" ? [v] : [];
}
export function boolOpt(ctx: Pick<CommandContext, "values">, name: string): boolean {
  return ctx.values[name] === true;
}

/** Parse a non-negative integer argument, naming it in the error. */
export function parseIntArg(what: string, text: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${what} "${text}" is not a non-negative integer`);
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${what} ${text} is out of range (${min}..${max})`);
  }
  return n;
}
