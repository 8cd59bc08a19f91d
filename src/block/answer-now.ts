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

/**
 * Optional on a BlockDevice: the fast path of a background copy's read (a drain, replace-main), which
 * may be larger than a served request's (FileDevice on tmpfs: up to 1 MiB in one call instead of
 * 32 KiB pieces). Same contract as AnswerNow.tryReadNow.
 */
export interface BulkReadNow {
  tryBulkReadNow(offsetBytes: number, target: Uint8Array): boolean;
}

/**
 * Fill `target` from `offsetBytes` now for a background copy: in one call where the device has a
 * bulk fast path, else with tryReadNow in pieces of `pieceBytes`; false at the first refusal (the
 * caller then reads the whole range through read()).
 */
export function tryBulkReadNow(
  device: object,
  offsetBytes: number,
  target: Uint8Array,
  pieceBytes: number,
): boolean {
  const d = device as Partial<BulkReadNow>;
  if (d.tryBulkReadNow !== undefined && d.tryBulkReadNow(offsetBytes, target)) return true;
  for (let off = 0; off < target.length; off += pieceBytes) {
    const end = Math.min(target.length, off + pieceBytes);
    if (!tryReadNow(device, offsetBytes + off, target.subarray(off, end))) return false;
  }
  return true;
}

/**
 * Optional on a BlockDevice: the fast path of a background copy's write (replace-main's copy into the
 * new main), larger than a served write may take on the event loop (FileDevice on tmpfs: up to 1 MiB
 * in one call, where a served write of more than 128 KiB goes to the threadpool so that the socket is
 * read meanwhile). Same contract as AnswerNow.tryWriteNow.
 */
export interface BulkWriteNow {
  tryBulkWriteNow(offsetBytes: number, data: Uint8Array): boolean;
}

/** Write `data` at `offsetBytes` now for a background copy where the device can; false otherwise. */
export function tryBulkWriteNow(device: object, offsetBytes: number, data: Uint8Array): boolean {
  const d = device as Partial<BulkWriteNow>;
  if (d.tryBulkWriteNow !== undefined && d.tryBulkWriteNow(offsetBytes, data)) return true;
  return tryWriteNow(device, offsetBytes, data);
}
