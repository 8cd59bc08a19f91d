// Every `dmremap` subcommand, in the order `dmremap help` lists them.
import type { Command } from "./command.js";
import { createCommand } from "./cmd-create.js";
import { setMainCommand } from "./cmd-set-main.js";
import { spareCommand } from "./cmd-spare.js";
import { replaceMainCommand } from "./cmd-replace-main.js";
import { checkCommand, listCommand, statusCommand } from "./cmd-inspect.js";
import { pendingCommand, remapCommand, unremapCommand } from "./cmd-remap.js";
import { infoCommand } from "./cmd-info.js";
import { serveCommand } from "./cmd-serve.js";
import { demoCommand } from "./cmd-demo.js";
import { alertCommand } from "./cmd-alert.js";
import { importCommand } from "./cmd-import.js";
import { exportCommand } from "./cmd-export.js";
import { affectedCommand } from "./cmd-affected.js";
import { faultCommand } from "./cmd-fault.js";
import { forecastCommand, scanCommand } from "./cmd-scan.js";

export const commands: readonly Command[] = [
  serveCommand,
  createCommand,
  statusCommand,
  listCommand,
  checkCommand,
  setMainCommand,
  spareCommand,
  replaceMainCommand,
  remapCommand,
  unremapCommand,
  pendingCommand,
  faultCommand,
  scanCommand,
  forecastCommand,
  importCommand,
  exportCommand,
  affectedCommand,
  infoCommand,
  demoCommand,
  alertCommand,
];
