// Choosing between the running daemon (online) and the set's metadata (offline), and the online calls.
import { schemaDefault } from "../daemon/config-schema.js";
import type { TargetStatus } from "../daemon/target.js";
import { ApiClient } from "./api-client.js";
import { stringOpt, stringsOpt, type CommandContext, type OptionSpec } from "./command.js";
import { UsageError } from "./errors.js";
import { findApiToken } from "./token-lookup.js";

/** Default address of the daemon's control API (the config schema's api.listen default). */
export const DEFAULT_API_ADDRESS = String(schemaDefault("api", "listen"));

/** Options of commands that can talk to a running daemon. */
export const ONLINE_OPTIONS: Record<string, OptionSpec> = {
  api: {
    type: "string",
    value: "ADDR",
    help: "control API of a running daemon (env DMREMAP_API)",
    default: DEFAULT_API_ADDRESS,
  },
  "token-file": {
    type: "string",
    value: "FILE",
    help: "file holding the bearer token for changes over TCP; without it: env DMREMAP_TOKEN (the token itself), then the api.token_file of $DMREMAP_CONFIG (default /etc/dmremap/dmremap.toml), then the demo's ./data/api-token",
  },
};

/** Offline when the set's spares are named on the command line, online otherwise. */
export function isOffline(ctx: Pick<CommandContext, "values">): boolean {
  return stringsOpt(ctx, "spare").length > 0;
}

/** A client for the daemon named by --api / DMREMAP_API (default loopback 7878). */
export function apiClient(ctx: Pick<CommandContext, "values">): ApiClient {
  const address = stringOpt(ctx, "api") ?? process.env.DMREMAP_API ?? DEFAULT_API_ADDRESS;
  const tokenFile = stringOpt(ctx, "token-file");
  return new ApiClient(address, findApiToken(tokenFile ? { tokenFile } : {})?.token);
}

/** Resolve which target an online command acts on: the named one, or the only one. */
export async function onlineTarget(client: ApiClient, name: string | undefined): Promise<string> {
  if (name) return name;
  const targets = await client.call<{ name: string }[]>("GET", "/v1/targets");
  if (targets.length === 1) return targets[0]!.name;
  throw new UsageError(
    `the daemon serves ${targets.length} targets (${targets.map((t) => t.name).join(", ")}): name one with --target`,
  );
}

/** Status of every target (or one) from the daemon. */
export async function onlineStatus(client: ApiClient, name?: string): Promise<TargetStatus[]> {
  if (name) return [await client.call<TargetStatus>("GET", `/v1/targets/${encodeURIComponent(name)}`)];
  const targets = await client.call<{ name: string }[]>("GET", "/v1/targets");
  return Promise.all(
    targets.map((t) => client.call<TargetStatus>("GET", `/v1/targets/${encodeURIComponent(t.name)}`)),
  );
}
