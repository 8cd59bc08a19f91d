// `dmremap demo` (what `npm start` runs): a ready-made set on image files in a data directory,
// served over NBD with a demo fault profile, plus instructions for connecting real clients.
import { randomBytes } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { basename, join, relative, resolve } from "node:path";
import { loadConfig, parseConfig, type DaemonConfig } from "../daemon/config.js";
import type { DaemonAddresses } from "../daemon/daemon.js";
import { boolOpt, stringOpt, type Command } from "./command.js";
import { runDaemon } from "./run-daemon.js";
import { DEMO_TOKEN_FILE } from "./token-lookup.js";

const MAIN_BYTES = 1 << 30;
const SPARE_BYTES = 64 << 20;
/** Blocks of the demo main that fail (dm-dust style): writes to them are remapped. */
export const DEMO_BAD_BLOCKS = [8, 1024, 4096, 65536, 131072, 200000];

function demoConfig(dir: string, api: string, faults: boolean): string {
  return `# dmremap demo configuration, written by 'dmremap demo' on first run (reference: docs/CONFIG.md).
# Edit freely: the next 'npm start' uses it as it is. Delete this directory to start over.

[daemon]
data_dir = "${dir}"
log_level = "info"

[api]
listen = "${api}"
# Bearer token for changes over TCP (remap, unremap, pending); the CLI finds it by itself.
token_file = "${join(dir, DEMO_TOKEN_FILE)}"

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

[target.faults.dust]
blocks = [${DEMO_BAD_BLOCKS.join(", ")}]
`;
}

/** Create the demo's API token (mode 0600) unless it exists; returns its path. */
async function ensureToken(dir: string): Promise<string> {
  const path = join(dir, DEMO_TOKEN_FILE);
  if (!existsSync(path)) await writeFile(path, `${randomBytes(24).toString("base64url")}\n`, { mode: 0o600 });
  return path;
}

/** How the user runs this CLI: `dmremap` when installed, `npx dmremap` in the checkout, else node + path. */
function cliCommand(): string {
  const script = process.argv[1] ?? "dmremap";
  if (basename(script) === "dmremap") return "dmremap";
  const checkoutEntry = resolve("dist/src/cli/main.js");
  if (resolve(script) === checkoutEntry && existsSync("package.json")) return "npx dmremap";
  return `node ${resolve(script)}`;
}

/** The flag an online command needs to find the demo's token, or "" when the default lookup finds it. */
function tokenFlag(dir: string, tokenFile: string): string {
  const found = resolve(process.env.DMREMAP_DATA || "data");
  return found === dir && relative(dir, tokenFile) === DEMO_TOKEN_FILE ? "" : ` --token-file ${tokenFile}`;
}

function instructions(dir: string, tokenFile: string, addresses: DaemonAddresses): string {
  const sock = join(dir, "nbd.sock");
  const uri = `nbd+unix:///demo?socket=${sock}`;
  const api = addresses.api ?? "";
  const http = api.startsWith("tcp:") ? `http://${api.slice(4)}` : api;
  const cli = cliCommand();
  const online = `--api ${api}${tokenFlag(dir, tokenFile)}`;
  return `
dmremap demo is running: a 1 GiB main image with bad blocks ${DEMO_BAD_BLOCKS.join(", ")} and a 64 MiB spare.
  data directory   ${dir}
  NBD export       ${uri}
  API token        ${tokenFile} (the CLI finds it; curl needs -H "Authorization: Bearer $(cat ${tokenFile})" for changes)

The bad blocks read EIO until they are written, like unreadable sectors of a real disk: a first
'nbdcopy' or 'dd' of the whole export fails on block 8. Write a bad block and it is remapped to the
spare; from then on it reads back what was written.

Connect:
  nbdinfo '${uri}'
  qemu-img info '${uri}'
  qemu-io -f raw -c 'write -P 0xab 32K 4K' -c 'read -P 0xab 32K 4K' '${uri}'      # block 8 is bad: watch it get remapped
  sudo modprobe nbd && sudo nbd-client -unix ${sock} /dev/nbd0 -N demo            # the Linux kernel
  qemu-system-x86_64 -drive file=${uri},format=raw,if=virtio ...                  # a VM disk

Look and change:
  ${cli} status ${online}            # add --json, or --watch
  ${cli} remap ${online} 100         # move block 100 to a spare slot now (data copied)
  ${cli} list ${online}              # remapped and pending blocks
  curl ${http}/v1/targets/demo
  curl ${http}/metrics

Stop with Ctrl-C (flushes and checkpoints). The next 'npm start' reuses the same set.
`;
}

export const demoCommand: Command = {
  name: "demo",
  summary: "serve a demo set from image files in a data directory (what `npm start` runs)",
  options: {
    "data-dir": {
      type: "string",
      value: "DIR",
      help: "where the images, config and API token live (env DMREMAP_DATA)",
      default: "./data",
    },
    api: {
      type: "string",
      value: "ADDR",
      help: "control API address on first run; tcp:127.0.0.1:0 picks a free port",
      default: "tcp:127.0.0.1:7878",
    },
    "no-faults": {
      type: "boolean",
      help: "on first run, write the config with the fault profile switched off",
    },
  },
  details: `examples:
  npm start                                          # the same as: dmremap demo
  dmremap demo --data-dir /tmp/demo --api tcp:127.0.0.1:0
The config is written to DIR/dmremap.toml once the first run is serving, so a failed first run
(port in use) pins nothing; later runs use that file as it is.`,
  async run(ctx) {
    const dir = resolve(stringOpt(ctx, "data-dir") ?? process.env.DMREMAP_DATA ?? "data");
    const configPath = join(dir, "dmremap.toml");
    await mkdir(dir, { recursive: true });
    const tokenFile = await ensureToken(dir);
    let config: DaemonConfig;
    let firstRunText: string | undefined;
    if (!existsSync(configPath)) {
      const api = stringOpt(ctx, "api") ?? "tcp:127.0.0.1:7878";
      firstRunText = demoConfig(dir, api, !boolOpt(ctx, "no-faults"));
      config = parseConfig(firstRunText, configPath);
      ctx.out.write(`first run: creating images and the set in ${dir}\n`);
    } else {
      config = await loadConfig(configPath).catch((err: unknown) => {
        // Most often a data directory from an older demo whose config keys have changed since.
        ctx.err.write(
          `demo: ${configPath} is not valid; fix it (docs/CONFIG.md) or delete ${dir} to start over\n`,
        );
        throw err;
      });
      ctx.out.write(`reusing ${configPath}\n`);
      // A data directory from before demo tokens: give the daemon the demo token so changes work.
      if (!config.api.tokenFile) config = { ...config, api: { ...config.api, tokenFile } };
    }
    return runDaemon(
      ctx,
      config,
      { configPath, createMainBytes: MAIN_BYTES, createSpareBytes: SPARE_BYTES },
      (addresses) => {
        if (firstRunText !== undefined) {
          writeFileSync(configPath, firstRunText);
          ctx.out.write(`first run: wrote ${configPath}\n`);
        }
        ctx.out.write(instructions(dir, config.api.tokenFile ?? tokenFile, addresses));
      },
    );
  },
};
