// Every `dmremap` subcommand, in the order `dmremap help` lists them.
import type { Command } from "./command.js";
import { createCommand } from "./cmd-create.js";
import { checkCommand, listCommand, statusCommand } from "./cmd-inspect.js";
import { pendingCommand, remapCommand, unremapCommand } from "./cmd-remap.js";
import { infoCommand } from "./cmd-info.js";
import { serveCommand } from "./cmd-serve.js";
import { demoCommand } from "./cmd-demo.js";

export const commands: readonly Command[] = [
  serveCommand,
  createCommand,
  statusCommand,
  listCommand,
  checkCommand,
  remapCommand,
  unremapCommand,
  pendingCommand,
  infoCommand,
  demoCommand,
];
