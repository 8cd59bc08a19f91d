// TLS configuration of the server: X.509 certificate/key, or pre-shared keys (psktool file format).
// Node implements TLS-PSK only up to TLS 1.2, so a PSK-only server pins TLS 1.2 with PSK ciphers.
import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import { NbdConfigError } from "./errors.js";
import type { HandshakeTls } from "./handshake.js";

/** TLS options of the server: certificate and key, and/or PSK identities. */
export interface NbdTlsOptions {
  /** PEM certificate chain (text) or a path via `certFile`. */
  readonly cert?: string | Buffer;
  readonly certFile?: string;
  /** PEM private key (text) or a path via `keyFile`. */
  readonly key?: string | Buffer;
  readonly keyFile?: string;
  /** Pre-shared keys by identity. */
  readonly psk?: ReadonlyMap<string, Buffer>;
  /** A psktool-format file: one `identity:hexkey` per line. */
  readonly pskFile?: string;
  /** Refuse plaintext exports (ERR_TLS_REQD); default true. */
  readonly required?: boolean;
}

/** Parse a psktool-format key file (`identity:hexkey` lines). */
export function parsePskFile(text: string, source = "PSK file"): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  text.split("\n").forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) return;
    const colon = trimmed.lastIndexOf(":");
    const hex = trimmed.slice(colon + 1);
    if (colon <= 0 || !/^([0-9a-fA-F]{2})+$/.test(hex)) {
      throw new NbdConfigError(`${source} line ${i + 1} is not "identity:hexkey"`);
    }
    keys.set(trimmed.slice(0, colon), Buffer.from(hex, "hex"));
  });
  if (keys.size === 0) throw new NbdConfigError(`${source} holds no keys`);
  return keys;
}

function readPem(
  inline: string | Buffer | undefined,
  file: string | undefined,
  what: string,
): string | Buffer | undefined {
  if (inline !== undefined) return inline;
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (err) {
    throw new NbdConfigError(`cannot read TLS ${what} file ${file}: ${(err as Error).message}`);
  }
}

/** Validate TLS options and build what the handshake needs. */
export function buildTls(options: NbdTlsOptions): HandshakeTls {
  const cert = readPem(options.cert, options.certFile, "certificate");
  const key = readPem(options.key, options.keyFile, "key");
  if ((cert === undefined) !== (key === undefined)) {
    throw new NbdConfigError("TLS needs both a certificate and a key (or neither, with PSK)");
  }
  let psk = options.psk;
  if (options.pskFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(options.pskFile, "utf8");
    } catch (err) {
      throw new NbdConfigError(`cannot read PSK file ${options.pskFile}: ${(err as Error).message}`);
    }
    psk = parsePskFile(text, options.pskFile);
  }
  if (cert === undefined && !psk) throw new NbdConfigError("TLS needs a certificate and key, or PSK keys");
  let secureContext;
  try {
    secureContext = createSecureContext({
      ...(cert !== undefined ? { cert, key } : {}),
      ...(psk && cert === undefined ? { ciphers: "PSK", minVersion: "TLSv1.2", maxVersion: "TLSv1.2" } : {}),
    });
  } catch (err) {
    throw new NbdConfigError(`invalid TLS certificate or key: ${(err as Error).message}`);
  }
  const keys = psk;
  return {
    secureContext,
    required: options.required ?? true,
    socketOptions: keys
      ? {
          pskCallback: (_socket: unknown, identity: string) => keys.get(identity) ?? null,
          ...(cert === undefined ? { ciphers: "PSK", minVersion: "TLSv1.2", maxVersion: "TLSv1.2" } : {}),
        }
      : {},
  } as HandshakeTls;
}
