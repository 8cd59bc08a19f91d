// The logger interface the NBD server writes to (one structured line per event), and a silent one.

/** Structured logger injected into the server. */
export interface NbdLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** A logger that drops everything. */
export const silentLogger: NbdLogger = {
  info() {},
  warn() {},
  error() {},
};
