// FileDevice's data path on an I/O worker thread (io-worker.ts, DMREMAP_IO_ENGINE=worker): typed errors
// naming the device, and a flush that covers every write issued before it, even one too large for a slot.
import { endOfFile, ioFailure, writeFully } from "./file-io.js";
import type { IoWorker } from "./io-worker.js";

/** Reads, writes and flushes of one fd on its worker, in submission order. */
export class WorkerFilePath {
  /** Writes too large for a slot, on libuv's threadpool until done. */
  private readonly largeWrites = new Set<Promise<void>>();

  constructor(
    private readonly worker: IoWorker,
    private readonly fd: number,
    private readonly name: string,
  ) {}

  /** True when a read of `lengthBytes` fits one slot (larger reads take the device's other path). */
  fits(lengthBytes: number): boolean {
    return lengthBytes <= this.worker.slotBytes;
  }

  /** Read all of `target` (at most one slot) at `offsetBytes`. */
  read(offsetBytes: number, target: Uint8Array): Promise<void> {
    return this.worker.read(this.fd, offsetBytes, target).then(
      (n) => {
        if (n < target.length) throw endOfFile(this.name, offsetBytes + n, target.length - n);
      },
      (err: unknown) => {
        throw ioFailure(this.name, "read", offsetBytes, target.length, err);
      },
    );
  }

  /**
   * Writes that fit a slot go through the worker in order; larger ones go to the threadpool and are
   * remembered until done, so that a later flush covers them (see sync()).
   */
  write(offsetBytes: number, data: Uint8Array, fua: boolean): Promise<void> {
    if (this.fits(data.length)) {
      return this.worker.write(this.fd, offsetBytes, data, fua).catch((err: unknown) => {
        throw ioFailure(this.name, "write", offsetBytes, data.length, err);
      });
    }
    const write = writeFully(this.fd, this.name, data, offsetBytes);
    this.largeWrites.add(write);
    const forget = (): void => void this.largeWrites.delete(write);
    write.then(forget, forget);
    return fua ? write.then(() => this.sync()) : write;
  }

  /** fdatasync after the threadpool writes still running and every request submitted to the worker. */
  async sync(): Promise<void> {
    if (this.largeWrites.size > 0) await Promise.allSettled([...this.largeWrites]);
    return this.worker.sync(this.fd).catch((err: unknown) => {
      throw ioFailure(this.name, "flush", 0, 0, err);
    });
  }
}
