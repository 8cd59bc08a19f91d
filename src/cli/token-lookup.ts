// Finds the bearer token of a local daemon for online commands, in a documented order:
// --token-file FILE, env DMREMAP_TOKEN (the token itself), the config's api.token_file, the demo's.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseConfig } from "../daemon/config.js";
import { UsageError } from "./errors.js";

/** Config whose api.token_file is tried when no flag or env gives a token. */
export const DEFAULT_CONFIG_PATH = "/etc/dmremap/dmremap.toml";
/** File name of the token `dmremap demo` writes in its data directory. */
export const DEMO_TOKEN_FILE = "api-token";

/** Where the token came from, for messages and tests. */
export interface FoundToken {
  readonly token: string;
  readonly source: string;
}

/** Inputs of the lookup; `env` and `cwd` are injectable for tests. */
export interface TokenLookupOptions {
  readonly tokenFile?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

function readIfPresent(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim() || undefined;
  } catch {
    // Absent or unreadable (a root-only file for a normal user): this source does not apply.
    return undefined;
  }
}

function configTokenFile(configPath: string): string | undefined {
  const text = readIfPresent(configPath);
  if (text === undefined) return undefined;
  try {
    return parseConfig(text, configPath).api.tokenFile;
  } catch {
    // A broken config is the daemon's to report; the CLI just does not find a token there.
    return undefined;
  }
}

/** The token to send, or undefined when no source has one. An explicit --token-file must be readable. */
export function findApiToken(options: TokenLookupOptions = {}): FoundToken | undefined {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  if (options.tokenFile) {
    let text: string;
    try {
      text = readFileSync(options.tokenFile, "utf8").trim();
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new UsageError(`--token-file ${options.tokenFile}: cannot read it (${reason})`);
    }
    if (!text) throw new UsageError(`--token-file ${options.tokenFile} is empty`);
    return { token: text, source: `--token-file ${options.tokenFile}` };
  }
  const fromEnv = env.DMREMAP_TOKEN?.trim();
  if (fromEnv) return { token: fromEnv, source: "DMREMAP_TOKEN" };
  const configPath = env.DMREMAP_CONFIG || DEFAULT_CONFIG_PATH;
  const configured = configTokenFile(configPath);
  const fromConfig = configured ? readIfPresent(configured) : undefined;
  if (fromConfig) return { token: fromConfig, source: `api.token_file of ${configPath}` };
  const demoFile = join(resolve(cwd, env.DMREMAP_DATA || "data"), DEMO_TOKEN_FILE);
  const fromDemo = readIfPresent(demoFile);
  if (fromDemo) return { token: fromDemo, source: demoFile };
  return undefined;
}
