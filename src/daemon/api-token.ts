// Reads the API bearer token from api.token_file, refusing files that other users could read.

import { readFile, stat } from "node:fs/promises";
import { ConfigError } from "./errors.js";

/** Shortest accepted token, so a guessable one is refused at start-up. */
export const MIN_TOKEN_LENGTH = 16;

/** Read the token (surrounding whitespace trimmed). Throws ConfigError naming api.token_file. */
export async function loadApiToken(path: string): Promise<string> {
  const fail = (message: string, cause?: unknown): never => {
    throw new ConfigError(path, [{ keyPath: "api.token_file", message }], { cause });
  };
  const info = await stat(path).catch((err: NodeJS.ErrnoException) =>
    fail(`cannot read ${path}: ${err.code}`, err),
  );
  if (!info.isFile()) fail(`${path} is not a regular file`);
  if ((info.mode & 0o077) !== 0) {
    fail(`${path} is accessible by group or others (mode ${(info.mode & 0o777).toString(8)}); chmod 600 it`);
  }
  const token = (await readFile(path, "utf8")).trim();
  if (token.length < MIN_TOKEN_LENGTH)
    fail(`token in ${path} is shorter than ${MIN_TOKEN_LENGTH} characters`);
  if (/\s/.test(token)) fail(`token in ${path} contains whitespace`);
  return token;
}
