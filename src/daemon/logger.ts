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
  /** Lifecycle lines (ready, stopping, stopped): logged at level info whatever the minimum level. */
  lifecycle(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
  /** Change the minimum level of this logger and every child (SIGHUP reload). */
  setLevel(level: LogLevel): void;
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

/** The minimum level, shared by a logger and all its children. */
interface LevelState {
  rank: number;
}

function levelRank(level: string): number {
  const rank = LOG_LEVELS.indexOf(level as LogLevel);
  if (rank < 0) throw new RangeError(`log level "${level}" is not one of ${LOG_LEVELS.join(", ")}`);
  return rank;
}

class JsonLogger implements Logger {
  constructor(
    private readonly level: LevelState,
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
  lifecycle(msg: string, fields?: LogFields): void {
    this.log(1, msg, fields, true);
  }

  child(fields: LogFields): Logger {
    return new JsonLogger(this.level, this.stream, { ...this.fields, ...fields }, this.clock);
  }

  setLevel(level: LogLevel): void {
    this.level.rank = levelRank(level);
  }

  private log(rank: number, msg: string, fields?: LogFields, always = false): void {
    if (rank < this.level.rank && !always) return;
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
  return new JsonLogger(
    { rank: levelRank(options.level ?? "info") },
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
  lifecycle() {},
  child() {
    return silentLogger;
  },
  setLevel() {},
};
