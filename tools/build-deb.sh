#!/usr/bin/env bash
# Builds the Debian package (debian/) of this working tree.
# usage: tools/build-deb.sh [OUTDIR]     (default: build/deb)
# The sources (tracked files and untracked ones git does not ignore) are
# copied to OUTDIR/src/muster-VERSION and built there with
# `dpkg-buildpackage -b`, so the source tree is never written to; the
# .deb files, .changes and .buildinfo end up in OUTDIR.
# DEB_BUILD_OPTIONS defaults to "nocheck parallel=2" (the suite is run by
# `make test`, not inside the package build).
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$src/build/deb}
mkdir -p "$out"
out=$(cd "$out" && pwd)
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
work=$out/src/muster-${version%-*}

rm -rf "$out/src"
mkdir -p "$work"
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  # Files deleted but not yet committed are skipped (--ignore-failed-read).
  (cd "$src" && git ls-files -z --cached --others --exclude-standard) |
    tar -C "$src" --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -C "$work" -xf -
else
  tar -C "$src" --exclude=./build -cf - . | tar -C "$work" -xf -
fi

export DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:-nocheck parallel=2}"
(cd "$work" && dpkg-buildpackage -b -us -uc)
rm -f "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
mv "$out"/src/*.deb "$out"/src/*.changes "$out"/src/*.buildinfo "$out"/
ls -1 "$out"/*.deb
