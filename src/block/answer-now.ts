// The synchronous fast path of a block device: a read or write answered before the call returns, or
// refused with nothing done that anyone could observe (the caller then takes the promise path).

/**
 * Optional on a BlockDevice. Each method either completes the whole request now and returns true, or
 * returns false having changed nothing the promise path would see differently (counters, metrics,
 * locks); the caller must then run the request through read() / write(), which does everything,
 * errors and their handling included. A request that fails on the fast path returns false: the
 * promise path meets the error again and handles it.
 */
export interface AnswerNow {
  /** Fill `target` from `offsetBytes` now, or return false. */
  tryReadNow(offsetBytes: number, target: Uint8Array): boolean;
  /** Write `data` at `offsetBytes` now (no FUA), or return false. */
  tryWriteNow(offsetBytes: number, data: Uint8Array): boolean;
}

/** `device.tryReadNow()` when the device has a fast path, else false. */
export function tryReadNow(device: object, offsetBytes: number, target: Uint8Array): boolean {
  const d = device as Partial<AnswerNow>;
  return d.tryReadNow !== undefined && d.tryReadNow(offsetBytes, target);
}

/** `device.tryWriteNow()` when the device has a fast path, else false. */
export function tryWriteNow(device: object, offsetBytes: number, data: Uint8Array): boolean {
  const d = device as Partial<AnswerNow>;
  return d.tryWriteNow !== undefined && d.tryWriteNow(offsetBytes, data);
}
