// Validation of HTTP request input at the edge: JSON bodies (size, content type, syntax), block numbers, query.

import type { IncomingMessage } from "node:http";
import { BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from "./errors.js";

/** Default limit of a request body. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** Most blocks one mutating request may name. */
export const MAX_BLOCKS_PER_REQUEST = 10_000;

/** Read and parse a JSON body; an empty body is `undefined`. */
export async function readJsonBody(req: IncomingMessage, limitBytes = MAX_BODY_BYTES): Promise<unknown> {
  const type = req.headers["content-type"];
  if (type !== undefined && !/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type)) {
    throw new UnsupportedMediaTypeError(type);
  }
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limitBytes) throw new PayloadTooLargeError(limitBytes);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limitBytes) throw new PayloadTooLargeError(limitBytes);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new BadRequestError(`request body is not valid JSON: ${(err as Error).message}`);
  }
}

/** Parse a block number: a non-negative safe integer below `blockCount`. */
export function checkBlock(value: unknown, blockCount: number, what: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw new BadRequestError(
      `${what}: ${JSON.stringify(value) ?? String(value)} is not a block number (a non-negative integer)`,
    );
  }
  if (value >= blockCount) {
    throw new BadRequestError(`${what}: block ${value} is beyond the last block ${blockCount - 1}`);
  }
  return value;
}

/** Parse a `{"blocks": [n, ...]}` body; every block is checked, duplicates are dropped, order is kept. */
export function parseBlocksBody(body: unknown, blockCount: number): number[] {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new BadRequestError('request body must be a JSON object {"blocks": [...]}');
  }
  const extra = Object.keys(body).filter((k) => k !== "blocks");
  if (extra.length > 0)
    throw new BadRequestError(`unknown member "${extra[0]}" in request body (expected only "blocks")`);
  const blocks = (body as { blocks?: unknown }).blocks;
  if (!Array.isArray(blocks)) throw new BadRequestError('"blocks" must be an array of block numbers');
  if (blocks.length === 0) throw new BadRequestError('"blocks" must not be empty');
  if (blocks.length > MAX_BLOCKS_PER_REQUEST) {
    throw new BadRequestError(
      `"blocks" has ${blocks.length} entries, more than the maximum ${MAX_BLOCKS_PER_REQUEST}`,
    );
  }
  const seen = new Set<number>();
  blocks.forEach((b, i) => seen.add(checkBlock(b, blockCount, `blocks[${i}]`)));
  return [...seen];
}

/** Parse an integer query parameter within bounds, or return the default when absent. */
export function queryInteger(
  query: URLSearchParams,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const text = query.get(name);
  if (text === null) return fallback;
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new BadRequestError(`query parameter ${name}: "${text}" is not an integer in ${min}..${max}`);
  }
  return value;
}

/** Refuse query parameters other than `allowed`. */
export function checkQueryNames(query: URLSearchParams, allowed: readonly string[]): void {
  for (const name of query.keys()) {
    if (!allowed.includes(name)) {
      throw new BadRequestError(
        `unknown query parameter "${name}"${allowed.length ? ` (allowed: ${allowed.join(", ")})` : ""}`,
      );
    }
  }
}
