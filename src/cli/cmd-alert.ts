// `dmremap alert test`: send a test alert through the [alerts] exec program and webhook of a config,
// like smartd's `-M test`, so the path to a person is checked before a disk fails.
import { loadConfig } from "../daemon/config.js";
import { AlertService } from "../daemon/alerts.js";
import { createLogger } from "../daemon/logger.js";
import { stringOpt, type Command } from "./command.js";
import { UsageError } from "./errors.js";
import { DEFAULT_CONFIG_PATH } from "./token-lookup.js";

export const alertCommand: Command = {
  name: "alert",
  summary: "send a test alert through the config's [alerts] exec program and webhook",
  args: "test",
  options: {
    config: {
      type: "string",
      value: "FILE",
      help: "daemon config with an [alerts] table (env DMREMAP_CONFIG)",
      default: DEFAULT_CONFIG_PATH,
    },
    target: { type: "string", value: "NAME", help: "target name to put in the test alert", default: "test" },
  },
  details: `examples:
  dmremap alert test
  dmremap alert test --config /etc/dmremap/disk0.toml --target disk0
The program gets DMREMAP_ALERT_KIND=test and the other DMREMAP_ALERT_* variables (docs/OPERATIONS.md);
the webhook gets the same alert as JSON. Exit status 1 when a delivery failed.`,
  async run(ctx) {
    if (ctx.positionals.length !== 1 || ctx.positionals[0] !== "test") {
      throw new UsageError(`alert: the only action is "test" (got "${ctx.positionals.join(" ")}")`);
    }
    const path = stringOpt(ctx, "config") ?? (process.env.DMREMAP_CONFIG || DEFAULT_CONFIG_PATH);
    const config = await loadConfig(path);
    if (!config.alerts?.exec && !config.alerts?.webhook) {
      throw new UsageError(`${path} has no [alerts] exec or webhook to test`);
    }
    const logger = createLogger({ level: "error", stream: ctx.err });
    const service = new AlertService({ config: config.alerts, logger });
    const results = await service.test(stringOpt(ctx, "target") ?? "test");
    for (const r of results) ctx.out.write(`${r.sink}: ${r.error ? `FAILED: ${r.error}` : "delivered"}\n`);
    return results.some((r) => r.error) ? 1 : 0;
  },
};
