#!/usr/bin/env bash
# Builds the Debian package (npm run package:deb): the built JS with its production node_modules under
# /usr/lib/dmremap, /usr/bin/dmremap, systemd units, man pages, bash completion, docs and examples.
# Usage: scripts/build-deb.sh [--no-build] [OUTDIR]   (default OUTDIR: dist/pkg; prints the .deb path)
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
if [ "${1:-}" = "--no-build" ]; then
  build=0
  shift
fi
outdir="$(mkdir -p "${1:-dist/pkg}" && cd "${1:-dist/pkg}" && pwd)"

if [ "$build" = 1 ]; then npm run build --silent; fi
if [ ! -f dist/src/cli/main.js ]; then
  echo "build-deb: dist/src/cli/main.js is missing: run npm run build first" >&2
  exit 1
fi

version="$(node -p 'require("./package.json").version')"
root="$(mktemp -d "${TMPDIR:-/tmp}/dmremap-deb.XXXXXX")"
trap 'rm -rf "$root"' EXIT
chmod 0755 "$root"
lib="$root/usr/lib/dmremap"
doc="$root/usr/share/doc/dmremap"

# The program: package.json (version, "type": "module") + the compiled sources without tests.
mkdir -p "$lib/dist"
cp package.json "$lib/"
cp -r dist/src "$lib/dist/src"
find "$lib/dist" \( -name '*.test.js' -o -name '*.test.js.map' \) -delete
rm -rf "$lib/dist/src/testing"
chmod 0755 "$lib/dist/src/cli/main.js"
# Production dependencies only, copied from the installed tree (npm's own list, no network).
npm ls --omit=dev --all --parseable 2>/dev/null | tail -n +2 | while read -r dir; do
  rel="${dir#"$PWD"/}"
  mkdir -p "$lib/$(dirname "$rel")"
  cp -r "$dir" "$lib/$rel"
done
mkdir -p "$root/usr/bin"
ln -s ../lib/dmremap/dist/src/cli/main.js "$root/usr/bin/dmremap"

# Man pages and bash completion, generated from the CLI schema.
gen="$root/gen"
node dist/src/cli/write-cli-docs.js "$gen" >/dev/null
mkdir -p "$root/usr/share/man/man1" "$root/usr/share/bash-completion/completions"
for page in "$gen"/man1/*.1; do gzip -9n <"$page" >"$root/usr/share/man/man1/$(basename "$page").gz"; done
cp "$gen/bash-completion/dmremap" "$root/usr/share/bash-completion/completions/dmremap"
rm -rf "$gen"

# systemd units, example config, docs and examples.
mkdir -p "$root/lib/systemd/system" "$root/etc/dmremap" "$doc/examples"
cp examples/dmremap.service examples/dmremap@.service "$root/lib/systemd/system/"
cp examples/dmremap.toml "$root/etc/dmremap/dmremap.toml.example"
cp README.md docs/*.md "$doc/"
cp examples/* "$doc/examples/"
cat >"$doc/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: dmremap
License: MIT

Files: *
License: MIT
EOF

mkdir -p "$root/DEBIAN"
echo "/etc/dmremap/dmremap.toml.example" >"$root/DEBIAN/conffiles"
installed_kb="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
cat >"$root/DEBIAN/control" <<EOF
Package: dmremap
Version: $version
Architecture: all
Maintainer: dmremap maintainers <dmremap@localhost>
Depends: nodejs (>= 20)
Recommends: libnbd-bin, nbd-client
Suggests: qemu-utils, prometheus
Section: admin
Priority: optional
Installed-Size: $installed_kb
Homepage: https://github.com/dmremap/dmremap
Description: userspace bad-block remapping block device served over NBD
 dmremap keeps a disk with bad sectors in service: healthy blocks stay on the
 failing main device, bad ones are redirected durably to spare devices, and the
 result is exported over NBD for the Linux kernel, qemu and libnbd tools.
 Node.js 20 or newer is required (Debian 12 ships 18: use the NodeSource
 packages or a newer Debian).
EOF
# Maintainer scripts: tell a running systemd about the units; never enable or start anything.
for script in postinst postrm; do
  cat >"$root/DEBIAN/$script" <<'EOF'
#!/bin/sh
set -e
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
  systemctl daemon-reload >/dev/null 2>&1 || true
fi
EOF
  chmod 0755 "$root/DEBIAN/$script"
done

deb="$outdir/dmremap_${version}_all.deb"
dpkg-deb --root-owner-group -Zgzip --build "$root" "$deb" >/dev/null
echo "$deb"
