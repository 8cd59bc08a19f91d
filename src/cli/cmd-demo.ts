// `dmremap demo` (what `npm start` runs): a ready-made set on image files in a data directory,
// served over NBD with a demo fault profile, plus instructions for connecting real clients.
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { resolve, join } from "node:path";
import { loadConfig } from "../daemon/config.js";
import type { DaemonAddresses } from "../daemon/daemon.js";
import { boolOpt, stringOpt, type Command } from "./command.js";
import { runDaemon } from "./run-daemon.js";

const MAIN_BYTES = 1 << 30;
const SPARE_BYTES = 64 << 20;
/** Blocks of the demo main that fail (dm-dust style): writes to them are remapped. */
const DEMO_BAD_BLOCKS = [8, 1024, 4096, 65536, 131072, 200000];

function demoConfig(dir: string, api: string, faults: boolean): string {
  return `# dmremap demo configuration, written by 'dmremap demo' on first run (reference: docs/CONFIG.md).
# Edit freely: the next 'npm start' uses it as it is. Delete this directory to start over.

[daemon]
data_dir = "${dir}"
log_level = "info"

[api]
listen = "${api}"

[metrics]
enabled = true

[nbd]
listen = ["unix:${join(dir, "nbd.sock")}"]

[[target]]
name = "demo"
main = "${join(dir, "main.img")}"
spares = ["${join(dir, "spare.img")}"]
block_size = 4096
create = true

[target.faults]
# The demo fault profile: main fails reads and writes of these 4 KiB blocks, like a disk with bad
# sectors. Writes to them are remapped to the spare; reads of them before any write return EIO.
# Set enabled = false (or run 'npm start -- --no-faults' on first run) to serve a healthy disk.
enabled = ${faults}
dust_blocks = [${DEMO_BAD_BLOCKS.join(", ")}]
`;
}

function instructions(dir: string, addresses: DaemonAddresses): string {
  const sock = join(dir, "nbd.sock");
  const uri = `nbd+unix:///demo?socket=${sock}`;
  const api = addresses.api ?? "";
  const http = api.startsWith("tcp:") ? `http://${api.slice(4)}` : api;
  return `
dmremap demo is running: a 1 GiB main image with bad blocks ${DEMO_BAD_BLOCKS.join(", ")} and a 64 MiB spare.
  data directory   ${dir}
  NBD export       ${uri}

Connect:
  nbdinfo '${uri}'
  qemu-img info '${uri}'
  qemu-io -f raw -c 'write -P 0xab 32K 4K' -c 'read -P 0xab 32K 4K' '${uri}'      # block 8 is bad: watch it get remapped
  sudo modprobe nbd && sudo nbd-client -unix ${sock} /dev/nbd0 -N demo            # the Linux kernel
  qemu-system-x86_64 -drive file=${uri},format=raw,if=virtio ...                  # a VM disk

Look:
  npx dmremap status --api ${api}            (add --json, or --watch)
  curl ${http}/v1/targets/demo
  curl ${http}/metrics

Stop with Ctrl-C (flushes and checkpoints). The next 'npm start' reuses the same set.
`;
}

export const demoCommand: Command = {
  name: "demo",
  summary: "serve a demo set from image files in a data directory (what `npm start` runs)",
  options: {
    "data-dir": { type: "string", value: "DIR", help: "where the images and config live", default: "./data" },
    api: {
      type: "string",
      value: "ADDR",
      help: "control API address on first run",
      default: "tcp:127.0.0.1:7878",
    },
    "no-faults": {
      type: "boolean",
      help: "on first run, write the config with the fault profile switched off",
    },
  },
  async run(ctx) {
    const dir = resolve(stringOpt(ctx, "data-dir") ?? process.env.DMREMAP_DATA ?? "data");
    const configPath = join(dir, "dmremap.toml");
    await mkdir(dir, { recursive: true });
    if (!existsSync(configPath)) {
      const api = stringOpt(ctx, "api") ?? "tcp:127.0.0.1:7878";
      await writeFile(configPath, demoConfig(dir, api, !boolOpt(ctx, "no-faults")));
      ctx.out.write(`first run: wrote ${configPath}; creating images and the set\n`);
    } else {
      ctx.out.write(`reusing ${configPath}\n`);
    }
    const config = await loadConfig(configPath);
    return runDaemon(
      ctx,
      config,
      { configPath, createMainBytes: MAIN_BYTES, createSpareBytes: SPARE_BYTES },
      (a) => ctx.out.write(instructions(dir, a)),
    );
  },
};
