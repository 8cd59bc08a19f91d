// The MetadataStore contract run against the real store: spare stores on memory devices.
import { metadataStoreContract } from "./store.contract.js";
import { openSet } from "./open-set.js";
import { makeSet } from "./test-fixtures.js";

metadataStoreContract("spare store on memory devices", async (blocks) => {
  const { main, spares, opened } = await makeSet({ mainBytes: blocks * 512, spareBytes: 262144 });
  return {
    opened,
    reopen: () => openSet({ spares, main }),
    breakWrites: () => {
      for (const s of spares) {
        s.failWrites = true;
        s.failFlushes = true;
      }
    },
  };
});
