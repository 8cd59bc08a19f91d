// `dmremap serve`: run the daemon from a config file, or for one set given by flags.
import { stringify } from "smol-toml";
import { loadConfig, parseConfig } from "../daemon/config.js";
import { boolOpt, stringOpt, stringsOpt, type Command } from "./command.js";
import { UsageError } from "./errors.js";
import { runDaemon } from "./run-daemon.js";
import { readSetIdentity } from "../daemon/stack.js";

/** Default NBD socket of `serve` without --listen. */
export const DEFAULT_NBD_SOCKET = "unix:/run/dmremap/nbd.sock";
/** Default control API address. */
export const DEFAULT_API = "tcp:127.0.0.1:7878";

export const serveCommand: Command = {
  name: "serve",
  summary: "export sets over NBD and serve the control API (foreground; SIGTERM stops cleanly)",
  options: {
    config: { type: "string", value: "FILE", help: "TOML config with one or more targets (docs/CONFIG.md)" },
    spare: {
      type: "string",
      multiple: true,
      value: "DEV",
      help: "a spare of the set to serve (without --config)",
    },
    main: { type: "string", value: "DEV", help: "main device (default: recorded at create time)" },
    listen: {
      type: "string",
      multiple: true,
      value: "ADDR",
      help: "NBD address: unix:PATH or tcp:HOST:PORT",
      default: DEFAULT_NBD_SOCKET,
    },
    name: { type: "string", value: "EXPORT", help: "NBD export name", default: "the set's name" },
    api: {
      type: "string",
      value: "ADDR",
      help: "control API address (tcp:HOST:PORT or unix:PATH)",
      default: DEFAULT_API,
    },
    "tls-cert": { type: "string", value: "FILE", help: "TLS certificate (PEM) for NBD" },
    "tls-key": { type: "string", value: "FILE", help: "TLS private key (PEM)" },
    "tls-psk": { type: "string", value: "FILE", help: "TLS pre-shared keys (psktool format)" },
    "allow-insecure": { type: "boolean", help: "allow plain-text NBD on a non-loopback address" },
    "log-level": { type: "string", value: "LEVEL", help: "debug, info, warn or error", default: "info" },
  },
  details: `examples:
  dmremap serve --spare /dev/sdc1 --listen unix:/run/dmremap/nbd.sock
  dmremap serve --config /etc/dmremap/dmremap.toml
Logs are JSON lines on standard error; the line with "msg":"ready" says where it listens.`,
  async run(ctx) {
    const configPath = stringOpt(ctx, "config");
    if (configPath) {
      if (stringsOpt(ctx, "spare").length > 0)
        throw new UsageError("give either --config or --spare, not both");
      return runDaemon(ctx, await loadConfig(configPath), { configPath });
    }
    const spares = stringsOpt(ctx, "spare");
    if (spares.length === 0) throw new UsageError("serve needs --config FILE or the set's --spare DEV");
    const identity = await readSetIdentity(spares);
    const main = stringOpt(ctx, "main") ?? identity.mainSpec;
    if (!main) throw new UsageError(`set "${identity.name}" records no main device: give it with --main DEV`);
    const exportName = stringOpt(ctx, "name") ?? identity.name;
    const listen = stringsOpt(ctx, "listen");
    const raw = {
      daemon: { log_level: stringOpt(ctx, "log-level") ?? "info" },
      api: { listen: stringOpt(ctx, "api") ?? DEFAULT_API },
      nbd: {
        listen: listen.length > 0 ? listen : [DEFAULT_NBD_SOCKET],
        ...(stringOpt(ctx, "tls-cert") ? { tls_cert: stringOpt(ctx, "tls-cert") } : {}),
        ...(stringOpt(ctx, "tls-key") ? { tls_key: stringOpt(ctx, "tls-key") } : {}),
        ...(stringOpt(ctx, "tls-psk") ? { tls_psk_file: stringOpt(ctx, "tls-psk") } : {}),
        allow_insecure: boolOpt(ctx, "allow-insecure"),
      },
      target: [
        {
          name: identity.name,
          export: exportName,
          main,
          spares,
          block_size: identity.blockSize,
        },
      ],
    };
    return runDaemon(ctx, parseConfig(stringify(raw), "command line"), {});
  },
};
