// `dmremap serve`: run the daemon from a config file, or for one set given by flags.
import { stringify } from "smol-toml";
import { loadConfig, parseConfig } from "../daemon/config.js";
import { schemaDefault } from "../daemon/config-schema.js";
import { boolOpt, stringOpt, stringsOpt, type Command } from "./command.js";
import { UsageError } from "./errors.js";
import { runDaemon } from "./run-daemon.js";
import { readSetIdentity } from "../daemon/stack.js";
import { flagError, policyFromFlags, policyOptions } from "./schema-flags.js";

/** Default NBD address of `serve` without --listen (the config schema's nbd.listen default). */
export const DEFAULT_NBD_SOCKET = String((schemaDefault("nbd", "listen") as readonly string[])[0]);
/** Default control API address (the config schema's api.listen default). */
export const DEFAULT_API = String(schemaDefault("api", "listen"));

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
    "token-file": {
      type: "string",
      value: "FILE",
      help: "file holding the API bearer token (mode 0600, >= 16 characters) that enables changes over TCP; overrides api.token_file",
    },
    "tls-cert": { type: "string", value: "FILE", help: "TLS certificate (PEM) for NBD" },
    "tls-key": { type: "string", value: "FILE", help: "TLS private key (PEM)" },
    "tls-psk": { type: "string", value: "FILE", help: "TLS pre-shared keys (psktool format)" },
    "allow-insecure": { type: "boolean", help: "allow plain-text NBD on a non-loopback address" },
    "allow-insecure-api": {
      type: "boolean",
      help: "allow the API (plain HTTP) on a non-loopback address (without it, serve refuses to start)",
    },
    "shutdown-timeout": {
      type: "string",
      value: "DURATION",
      help: "bound of a stop (SIGTERM); what is left then is logged and the exit code is 1",
      default: String(schemaDefault("daemon", "shutdown_timeout")),
    },
    ...policyOptions(),
    "log-level": { type: "string", value: "LEVEL", help: "debug, info, warn or error", default: "info" },
  },
  details: `examples:
  dmremap serve --spare /dev/sdc1 --listen unix:/run/dmremap/nbd.sock
  dmremap serve --config /etc/dmremap/dmremap.toml
  dmremap serve --spare /dev/sdc1 --token-file /etc/dmremap/token    # remap/unremap over TCP with the token
Logs are JSON lines on standard error; the line with "msg":"ready" says where it listens.`,
  async run(ctx) {
    const configPath = stringOpt(ctx, "config");
    if (configPath) {
      if (stringsOpt(ctx, "spare").length > 0)
        throw new UsageError("give either --config or --spare, not both");
      if (Object.keys(policyFromFlags(ctx)).length > 0)
        throw new UsageError(
          "policy flags apply to serve --spare; with --config, set [target.policy] in the file",
        );
      const config = await loadConfig(configPath);
      const tokenFile = stringOpt(ctx, "token-file");
      return runDaemon(ctx, tokenFile ? { ...config, api: { ...config.api, tokenFile } } : config, {
        configPath,
      });
    }
    const spares = stringsOpt(ctx, "spare");
    if (spares.length === 0) throw new UsageError("serve needs --config FILE or the set's --spare DEV");
    const policy = policyFromFlags(ctx);
    const identity = await readSetIdentity(spares);
    const main = stringOpt(ctx, "main") ?? identity.mainSpec;
    if (!main) throw new UsageError(`set "${identity.name}" records no main device: give it with --main DEV`);
    const exportName = stringOpt(ctx, "name") ?? identity.name;
    const listen = stringsOpt(ctx, "listen");
    const raw = {
      daemon: {
        log_level: stringOpt(ctx, "log-level") ?? "info",
        ...(stringOpt(ctx, "shutdown-timeout")
          ? { shutdown_timeout: stringOpt(ctx, "shutdown-timeout") }
          : {}),
      },
      api: {
        ...(stringOpt(ctx, "api") ? { listen: stringOpt(ctx, "api") } : {}),
        ...(stringOpt(ctx, "token-file") ? { token_file: stringOpt(ctx, "token-file") } : {}),
        allow_insecure: boolOpt(ctx, "allow-insecure-api"),
      },
      nbd: {
        ...(listen.length > 0 ? { listen } : {}),
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
          ...(Object.keys(policy).length > 0 ? { policy } : {}),
        },
      ],
    };
    let config;
    try {
      config = parseConfig(stringify(raw), "command line");
    } catch (err) {
      throw flagError(err);
    }
    return runDaemon(ctx, config, {});
  },
};
