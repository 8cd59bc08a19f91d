// Packaging: `npm run package:deb` builds a .deb that installs on this machine (dpkg -i), runs
// `dmremap --version`, renders `man dmremap`, passes `systemd-analyze verify`, completes in bash and
// uninstalls cleanly; `npm pack` gives a tarball that `npm install -g` installs into a prefix.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readlinkSync } from "node:fs";
import { chmod, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { mustRun, run, tempDir, TOOL_ENV } from "./harness.js";
import { requireTools } from "./tools.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;

/** Is the package installed on this machine (dpkg's view)? */
async function debInstalled(): Promise<boolean> {
  const r = await run("dpkg-query", ["-W", "-f=${Status}", "dmremap"]);
  return r.code === 0 && r.stdout.includes("install ok installed");
}

test("the .deb builds, installs, runs --version, shows man dmremap, verifies its units and uninstalls", async () => {
  await requireTools("dpkg-deb", "dpkg", "man", "groff", "systemd-analyze");
  assert.equal(await debInstalled(), false, "dmremap must not already be installed on the test machine");
  const dir = await tempDir("dmremap-deb-");
  try {
    const built = await mustRun("bash", [join(ROOT, "scripts/build-deb.sh"), "--no-build", dir.path], {
      timeoutMs: 60_000,
    });
    const deb = built.stdout.trim();
    assert.equal(deb, join(dir.path, `dmremap_${VERSION}_all.deb`));

    const fields = await mustRun("dpkg-deb", ["-f", deb, "Package", "Version", "Depends", "Architecture"]);
    assert.match(fields.stdout, /^Package: dmremap$/m);
    assert.match(fields.stdout, new RegExp(`^Version: ${VERSION.replace(/\./g, "\\.")}$`, "m"));
    assert.match(fields.stdout, /^Depends: nodejs \(>= 20\)$/m);

    // Content, unpacked into a scratch root: the program runs from there too (relative symlink).
    const scratch = join(dir.path, "root");
    await mustRun("dpkg-deb", ["-x", deb, scratch]);
    assert.equal(readlinkSync(join(scratch, "usr/bin/dmremap")), "../lib/dmremap/dist/src/cli/main.js");
    for (const path of [
      "lib/systemd/system/dmremap.service",
      "lib/systemd/system/dmremap@.service",
      "etc/dmremap/dmremap.toml.example",
      "usr/share/doc/dmremap/OPERATIONS.md",
      "usr/share/doc/dmremap/SEMANTICS.md",
      "usr/share/doc/dmremap/examples/99-dmremap.rules",
      "usr/share/doc/dmremap/examples/grafana-dashboard.json",
      "usr/share/man/man1/dmremap.1.gz",
      "usr/share/man/man1/dmremap-serve.1.gz",
      "usr/share/bash-completion/completions/dmremap",
      "usr/lib/dmremap/node_modules/smol-toml/package.json",
      "usr/lib/dmremap/node_modules/prom-client/package.json",
      "usr/lib/dmremap/dist/src/web/assets/app.js",
    ]) {
      assert.ok(existsSync(join(scratch, path)), `${path} is in the package`);
    }
    assert.equal(
      existsSync(join(scratch, "usr/lib/dmremap/node_modules/typescript")),
      false,
      "no dev dependencies",
    );
    const scratchVersion = await mustRun(join(scratch, "usr/bin/dmremap"), ["--version"]);
    assert.equal(scratchVersion.stdout, `dmremap ${VERSION}\n`);

    // Installed on this machine for real, then removed and purged.
    try {
      await mustRun("dpkg", ["-i", deb], { timeoutMs: 60_000 });
      assert.equal(await debInstalled(), true);
      const version = await mustRun("/usr/bin/dmremap", ["--version"]);
      assert.equal(version.stdout, `dmremap ${VERSION}\n`);
      const man = await mustRun("sh", ["-c", "MANWIDTH=100 man -P cat dmremap"]);
      assert.match(man.stdout, /dmremap - keep a disk with bad sectors in service/);
      assert.match(man.stdout, /dmremap serve \[options\]/);
      const manServe = await mustRun("sh", ["-c", "MANWIDTH=100 man -P cat dmremap-serve"]);
      assert.match(manServe.stdout, /--token-file FILE/);
      for (const unit of ["dmremap.service", "dmremap@disk0.service"]) {
        const verify = await run("systemd-analyze", ["verify", unit]);
        assert.equal(verify.code, 0, `${unit}: ${verify.stderr}`);
        assert.equal(verify.stderr.trim(), "", `${unit} verifies without warnings`);
      }
      const completion = await mustRun("bash", [
        "-c",
        "source /usr/share/bash-completion/completions/dmremap; COMP_WORDS=(dmremap ser); COMP_CWORD=1; _dmremap; echo ${COMPREPLY[@]}",
      ]);
      assert.equal(completion.stdout.trim(), "serve");
    } finally {
      await mustRun("dpkg", ["--purge", "dmremap"], { timeoutMs: 60_000 });
    }
    assert.equal(await debInstalled(), false);
    assert.equal(existsSync("/usr/bin/dmremap"), false);
    assert.equal(existsSync("/lib/systemd/system/dmremap.service"), false);
    assert.equal(existsSync("/etc/dmremap/dmremap.toml.example"), false, "purge removes the conffile");
  } finally {
    await dir.cleanup();
  }
});

test("npm pack gives a tarball that npm install -g installs and runs from a prefix", async () => {
  const dir = await tempDir("dmremap-npm-");
  try {
    const packed = await mustRun(
      "npm",
      ["pack", "--ignore-scripts", "--silent", "--pack-destination", dir.path, ROOT],
      { timeoutMs: 60_000 },
    );
    const tarball = join(dir.path, packed.stdout.trim().split("\n").pop()!);
    const listing = await mustRun("tar", ["-tzf", tarball]);
    assert.match(listing.stdout, /^package\/dist\/src\/cli\/main\.js$/m);
    assert.doesNotMatch(listing.stdout, /\.test\.js$/m, "no test files in the tarball");
    const prefix = join(dir.path, "prefix");
    await mustRun(
      "npm",
      ["install", "-g", "--prefix", prefix, "--prefer-offline", "--no-audit", "--no-fund", tarball],
      { timeoutMs: 60_000 },
    );
    const version = await mustRun(join(prefix, "bin/dmremap"), ["--version"]);
    assert.equal(version.stdout, `dmremap ${VERSION}\n`);
    const help = await mustRun(join(prefix, "bin/dmremap"), ["help", "serve"]);
    assert.match(help.stdout, /--token-file FILE/);
  } finally {
    await dir.cleanup();
  }
});

test(".ci/run lists real Debian packages only, each installed on this machine", async () => {
  const script = readFileSync(join(ROOT, ".ci/run"), "utf8");
  const lines = script.split("\n").filter((l) => /^PKGS="/.test(l));
  assert.equal(lines.length, 1, "one PKGS line, the single list");
  const pkgs = /^PKGS="([^"]*)"/.exec(lines[0]!)![1]!.split(/\s+/).filter(Boolean);
  assert.ok(pkgs.includes("libnbd-bin") && !pkgs.includes("nbdfuse"), "nbdfuse comes from libnbd-bin");
  for (const p of pkgs) {
    const status = await run("dpkg-query", ["-W", "-f=${Status}", p]);
    assert.match(status.stdout, /install ok installed/, `${p} is a real, installed package`);
  }
});

test(".ci/run calls no apt-get when nothing is missing, and names a virtual package instead of installing it", async () => {
  const dir = await tempDir("dmremap-ci-");
  try {
    const bin = join(dir.path, "bin");
    const calls = join(dir.path, "calls");
    await mkdir(bin);
    for (const tool of ["apt-get", "npm"]) {
      await writeFile(join(bin, tool), `#!/bin/sh\necho "${tool} $*" >> "${calls}"\n`);
      await chmod(join(bin, tool), 0o755);
    }
    const env = { ...TOOL_ENV, PATH: `${bin}:${TOOL_ENV.PATH}` };
    const clean = await run(join(ROOT, ".ci/run"), [], { env, timeoutMs: 30_000 });
    assert.equal(clean.code, 0, clean.stderr);
    assert.deepEqual(readFileSync(calls, "utf8").trim().split("\n"), [
      "npm ci --no-audit --no-fund",
      "npm test",
    ]);

    // The same script with a virtual package in PKGS: it says which, and installs nothing.
    await mkdir(join(dir.path, "repo", ".ci"), { recursive: true });
    const script = readFileSync(join(ROOT, ".ci/run"), "utf8").replace(
      /^PKGS="[^"]*"/m,
      'PKGS="fio nbdfuse"',
    );
    await writeFile(join(dir.path, "repo", ".ci", "run"), script);
    await chmod(join(dir.path, "repo", ".ci", "run"), 0o755);
    await rm(calls);
    const virtual = await run(join(dir.path, "repo", ".ci", "run"), [], { env, timeoutMs: 30_000 });
    assert.equal(virtual.code, 1);
    assert.match(virtual.stderr, /"nbdfuse" is not a real Debian package/);
    assert.deepEqual(readFileSync(calls, "utf8").trim().split("\n"), ["apt-get update -qq"]);
  } finally {
    await dir.cleanup();
  }
});
