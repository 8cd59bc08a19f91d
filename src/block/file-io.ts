// Positional fd I/O as promises, and the typed errors a failed file read / write becomes.
// Shared by FileDevice's buffered path and its O_DIRECT path (direct-io.ts).
import fs from "node:fs";
import { MediumError, NoSpaceError } from "./errors.js";

/** A failed read / write / flush of `device` as a typed error (ENOSPC -> NoSpaceError). */
export function ioFailure(
  device: string,
  op: "read" | "write" | "flush",
  offsetBytes: number,
  lengthBytes: number,
  err: unknown,
): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOSPC") return new NoSpaceError(device, `no space left writing at offset ${offsetBytes}`);
  const detail = code ?? (err instanceof Error ? err.message : String(err));
  const where = op === "flush" ? "" : ` at offset ${offsetBytes} length ${lengthBytes}`;
  return new MediumError(device, op, offsetBytes, lengthBytes, `${device}: ${op} failed${where}: ${detail}`, {
    cause: err,
  });
}

/** A read that hit end-of-file inside the device's size. */
export function endOfFile(device: string, offsetBytes: number, lengthBytes: number): MediumError {
  return new MediumError(
    device,
    "read",
    offsetBytes,
    lengthBytes,
    `${device}: unexpected end of file at offset ${offsetBytes} (was the file truncated?)`,
  );
}

/** pread(2) into buf[offset, offset + length). */
export function readAt(
  fd: number,
  buf: Uint8Array,
  offset: number,
  length: number,
  position: number,
): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.read(fd, buf, offset, length, position, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

/** pwrite(2) from buf[offset, offset + length). */
export function writeAt(
  fd: number,
  buf: Uint8Array,
  offset: number,
  length: number,
  position: number,
): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.write(fd, buf, offset, length, position, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

/** Largest single read()/write() call; longer transfers loop (the kernel may also transfer less). */
const MAX_CALL_BYTES = 1 << 30;

/**
 * Read all of `target` from `position` on the threadpool as one promise, with typed errors naming
 * `device`: a single pread in the usual case, no async function or per-call promise around it.
 */
export function readFully(fd: number, device: string, target: Uint8Array, position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = 0;
    const step = (): void => {
      if (done === target.length) return resolve();
      const want = Math.min(MAX_CALL_BYTES, target.length - done);
      fs.read(fd, target, done, want, position + done, (err, n) => {
        if (err) return reject(ioFailure(device, "read", position + done, want, err));
        if (n === 0) return reject(endOfFile(device, position + done, target.length - done));
        done += n;
        step();
      });
    };
    step();
  });
}

/** Write all of `data` at `position` on the threadpool as one promise (see readFully). */
export function writeFully(fd: number, device: string, data: Uint8Array, position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = 0;
    const step = (): void => {
      if (done === data.length) return resolve();
      const want = Math.min(MAX_CALL_BYTES, data.length - done);
      fs.write(fd, data, done, want, position + done, (err, n) => {
        if (err) return reject(ioFailure(device, "write", position + done, want, err));
        done += n;
        step();
      });
    };
    step();
  });
}
