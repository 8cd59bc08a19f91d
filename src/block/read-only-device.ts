// ReadOnlyDevice: a layer that refuses writes, trims and zeroing; used by openDevice({ readOnly })
// for bases that cannot be opened read-only themselves (mem:).
import type { DeviceCapabilities } from "./block-device.js";
import { LayerDevice } from "./base-device.js";

/** Passes reads and flushes through; every write-type request fails with ReadOnlyError. */
export class ReadOnlyDevice extends LayerDevice {
  protected override readonly fastChecksBelow = false;
  get name(): string {
    return this.lower.describe();
  }

  override get capabilities(): DeviceCapabilities {
    return { ...this.lower.capabilities, readOnly: true };
  }

  protected override readOnlyReason(): string {
    return "opened read-only";
  }

  /** Read-only is an open option, not part of the spec: describe the device below. */
  describe(): string {
    return this.lower.describe();
  }
}
