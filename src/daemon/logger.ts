// Structured JSON-lines logger: one object per line with time, level, msg and fields; `child()` adds fields.

/** Log levels, least to most severe. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
/** One log level. */
export type LogLevel = (typeof LOG_LEVELS)[number];
/** Structured fields attached to a log line. */
export type LogFields = Readonly<Record<string, unknown>>;

/** The logging shape every component uses. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

/** Options of createLogger. */
export interface LoggerOptions {
  /** Lines below this level are dropped (default "info"). */
  readonly level?: LogLevel;
  /** Where lines go (default process.stderr). */
  readonly stream?: { write(chunk: string): unknown };
  /** Fields added to every line. */
  readonly fields?: LogFields;
  /** Time source (default Date.now); injectable for tests. */
  readonly clock?: () => number;
}

/** Serialize values JSON cannot carry faithfully (errors, bigints, buffers). */
function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: value.message };
    for (const [k, v] of Object.entries(value)) out[k] = v;
    if (value.cause !== undefined) out.cause = value.cause;
    out.stack = value.stack;
    return out;
  }
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`;
  return value;
}

class JsonLogger implements Logger {
  constructor(
    private readonly minRank: number,
    private readonly stream: { write(chunk: string): unknown },
    private readonly fields: LogFields,
    private readonly clock: () => number,
  ) {}

  debug(msg: string, fields?: LogFields): void {
    this.log(0, msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.log(1, msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.log(2, msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.log(3, msg, fields);
  }

  child(fields: LogFields): Logger {
    return new JsonLogger(this.minRank, this.stream, { ...this.fields, ...fields }, this.clock);
  }

  private log(rank: number, msg: string, fields?: LogFields): void {
    if (rank < this.minRank) return;
    const head = { time: new Date(this.clock()).toISOString(), level: LOG_LEVELS[rank]!, msg };
    // Fields cannot overwrite time, level or msg; those stay first on the line.
    const record = Object.assign({ ...head }, this.fields, fields, head);
    let line: string;
    try {
      line = JSON.stringify(record, replacer);
    } catch (err) {
      // A circular field must not take the caller down with it.
      line = JSON.stringify({ time: record.time, level: record.level, msg, logError: String(err) });
    }
    this.stream.write(line + "\n");
  }
}

/** Create a JSON-lines logger. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? "info";
  const rank = LOG_LEVELS.indexOf(level);
  if (rank < 0) throw new RangeError(`log level "${String(level)}" is not one of ${LOG_LEVELS.join(", ")}`);
  return new JsonLogger(
    rank,
    options.stream ?? process.stderr,
    options.fields ?? {},
    options.clock ?? Date.now,
  );
}

/** A logger that drops everything. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};
