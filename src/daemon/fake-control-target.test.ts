// The ControlTarget contract run against the fake control target used by the API and metrics tests.
import { controlTargetContract } from "./control-target.contract.js";
import { FakeControlTarget } from "./fake-control-target.js";

controlTargetContract("fake target", async (blocks, options) => {
  const target = new FakeControlTarget({
    name: "t",
    blocks,
    blockSize: 4096,
    spareSlots: 16,
    faults: options?.faults ?? false,
  });
  return {
    target,
    makeReadOnly: (reason) => {
      target.state = "read-only";
      target.reason = reason;
    },
    close: async () => {},
  };
});
