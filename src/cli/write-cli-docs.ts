// Writes the man pages and the bash completion from the CLI schema (run at package time):
// `node dist/src/cli/write-cli-docs.js OUTDIR` -> OUTDIR/man1/*.1 and OUTDIR/bash-completion/dmremap.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { commands } from "./commands.js";
import { renderBashCompletion } from "./completion.js";
import { renderManPages } from "./manpage.js";

/** Version of the package this file belongs to (package.json at the root, from dist/src/cli/). */
export function packageVersion(): string {
  const url = new URL(
    import.meta.url.includes("/dist/") ? "../../../package.json" : "../../package.json",
    import.meta.url,
  );
  return (JSON.parse(readFileSync(url, "utf8")) as { version: string }).version;
}

/** Write every generated file under `outDir`; returns the paths written. */
export function writeCliDocs(outDir: string, version = packageVersion()): string[] {
  const written: string[] = [];
  mkdirSync(join(outDir, "man1"), { recursive: true });
  for (const [name, text] of renderManPages(commands, version)) {
    const path = join(outDir, "man1", name);
    writeFileSync(path, text);
    written.push(path);
  }
  mkdirSync(join(outDir, "bash-completion"), { recursive: true });
  const completion = join(outDir, "bash-completion", "dmremap");
  writeFileSync(completion, renderBashCompletion(commands));
  written.push(completion);
  return written;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const outDir = process.argv[2];
  if (!outDir) {
    process.stderr.write("usage: node dist/src/cli/write-cli-docs.js OUTDIR\n");
    process.exit(2);
  }
  for (const path of writeCliDocs(outDir)) process.stdout.write(`wrote ${path}\n`);
}
