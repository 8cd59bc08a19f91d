// A placeholder for a device that is not there (a spare missing from its set): it has the recorded
// size and fails every I/O with MissingDeviceError (a MediumError), so the layers above treat its
// blocks like bad ones: reads fail with EIO, writes are remapped elsewhere.
import type { DeviceCapabilities } from "./block-device.js";
import { BaseDevice } from "./base-device.js";
import { MissingDeviceError } from "./errors.js";

/** Options of a missing device. */
export interface MissingDeviceOptions {
  readonly sizeBytes: number;
  /** What is missing, for messages and describe() (e.g. "missing spare 1 (uuid, last seen as /dev/sdc1)"). */
  readonly name: string;
}

/** Every read, write and flush fails; close succeeds. */
export class MissingDevice extends BaseDevice {
  readonly sizeBytes: number;
  readonly name: string;
  readonly capabilities: DeviceCapabilities = {
    flush: true,
    fua: false,
    trim: false,
    writeZeroes: false,
    readOnly: false,
  };

  constructor(options: MissingDeviceOptions) {
    super();
    this.sizeBytes = options.sizeBytes;
    this.name = options.name;
  }

  protected _read(offsetBytes: number, target: Uint8Array): Promise<void> {
    return Promise.reject(new MissingDeviceError(this.name, "read", offsetBytes, target.length));
  }

  protected _write(offsetBytes: number, data: Uint8Array): Promise<void> {
    return Promise.reject(new MissingDeviceError(this.name, "write", offsetBytes, data.length));
  }

  protected _flush(): Promise<void> {
    return Promise.reject(new MissingDeviceError(this.name, "flush", 0, 0));
  }

  describe(): string {
    return this.name;
  }
}
