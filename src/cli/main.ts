#!/usr/bin/env node
// `dmremap`: the command-line entry point. Thin: parse -> call -> render; one error mapping.
import { readFileSync } from "node:fs";
import { commandHelp, parseCommandArgs, type Command } from "./command.js";
import { describeCliError, EXIT_OK, EXIT_USAGE, UsageError } from "./errors.js";
import { commands } from "./commands.js";

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as {
    version: string;
  };
  return pkg.version;
}

function overview(): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return [
    "usage: dmremap COMMAND [options]",
    "",
    "dmremap keeps a disk with bad sectors in service: healthy blocks stay on the main device,",
    "bad ones are redirected to spare devices, and the result is exported over NBD.",
    "",
    "commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    "",
    "Run 'dmremap help COMMAND' for a command's options. Device specs: docs/DEVICE-SPECS.md.",
    "",
  ].join("\n");
}

function findCommand(name: string): Command {
  const command = commands.find((c) => c.name === name);
  if (!command) throw new UsageError(`unknown command "${name}" (run 'dmremap help' for the list)`);
  return command;
}

/** Run the CLI with the given arguments; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined || name === "help" || name === "--help" || name === "-h") {
      process.stdout.write(rest[0] ? commandHelp(findCommand(rest[0])) : overview());
      return name === undefined ? EXIT_USAGE : EXIT_OK;
    }
    if (name === "--version" || name === "-V") {
      process.stdout.write(`dmremap ${version()}\n`);
      return EXIT_OK;
    }
    const command = findCommand(name);
    if (rest.includes("--help") || rest.includes("-h")) {
      process.stdout.write(commandHelp(command));
      return EXIT_OK;
    }
    const parsed = parseCommandArgs(command, rest);
    const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
      for (const sig of ["SIGINT", "SIGTERM"] as const) process.once(sig, () => resolve(sig));
    });
    return await command.run({ ...parsed, out: process.stdout, err: process.stderr, stopSignal });
  } catch (err) {
    const { exitCode, message } = describeCliError(err);
    process.stderr.write(`dmremap: ${message}\n`);
    if (process.env.DMREMAP_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    return exitCode;
  }
}

/**
 * After a command returns, whatever is still pending (a hung device's request, a reconnect timer)
 * must not keep the process alive: exit after a short grace for output to drain.
 */
const EXIT_GRACE_MS = 500;

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    setTimeout(() => process.exit(code), EXIT_GRACE_MS).unref();
  },
  (err: unknown) => {
    process.stderr.write(`dmremap: internal error: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
