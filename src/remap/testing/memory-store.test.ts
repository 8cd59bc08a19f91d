// The MetadataStore contract run against the in-memory fake used by the remap tests.
import { metadataStoreContract } from "../../metadata/store.contract.js";
import { createMemorySet, reopenMemorySet, type MemoryMetadataStore } from "./memory-store.js";

metadataStoreContract("in-memory fake", async (blocks) => {
  const { durable, opened } = createMemorySet({
    blockSize: 512,
    mainSizeBytes: blocks * 512,
    spareSlots: [8, 8],
  });
  let current = opened.store as MemoryMetadataStore;
  return {
    opened,
    reopen: async () => {
      const again = reopenMemorySet(durable);
      current = again.store;
      return again;
    },
    breakWrites: () => {
      current.failAppends = true;
      current.failCheckpoints = true;
    },
  };
});
