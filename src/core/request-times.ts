// Durations of finished client requests, handed to their consumers (latency metrics, scanner pacing,
// the dashboard) in batches: one hand-over per batch of received requests instead of a chain of
// calls and lookups per request.

/** The operations whose durations are observed, by code (the index). */
export const REQUEST_OPS = ["read", "write", "flush", "trim", "zero"] as const;
export type RequestOp = (typeof REQUEST_OPS)[number];
/** Codes of the operations that carry client data (reads and writes pace the scanner). */
export const OP_READ = 0;
export const OP_WRITE = 1;

/** Requests a batch holds before it is handed over regardless. */
export const REQUEST_TIMES_CAPACITY = 256;

/**
 * One batch: `count` requests, each an operation code (REQUEST_OPS index) and a duration in seconds.
 * Its owner reuses it once the consumer returns: a consumer reads it and keeps none of it.
 */
export class RequestTimes {
  count = 0;
  readonly ops: Uint8Array;
  readonly seconds: Float64Array;

  constructor(capacity = REQUEST_TIMES_CAPACITY) {
    this.ops = new Uint8Array(capacity);
    this.seconds = new Float64Array(capacity);
  }

  /** Record one request; true when the batch is now full (hand it over, then clear it). */
  add(op: number, seconds: number): boolean {
    const i = this.count++;
    this.ops[i] = op;
    this.seconds[i] = seconds;
    return this.count === this.ops.length;
  }

  clear(): void {
    this.count = 0;
  }
}

/** Receives batches of request durations. Called on the data path: keep it cheap, keep nothing. */
export type RequestTimesObserver = (times: RequestTimes) => void;
