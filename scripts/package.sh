#!/usr/bin/env bash
# Builds sisopi's Debian package from this checkout and checks it with lintian.
#   scripts/package.sh [OUT_DIR]        (default ./dist)
# The build runs in a copy of the tree (dpkg-buildpackage writes beside and into the source);
# the .deb, .buildinfo and .changes land in OUT_DIR with lintian's report (lintian.txt). Fails
# on any lintian error or warning that debian/sisopi.lintian-overrides does not explain.
# Installs debhelper, lintian and the build dependencies when missing (apt-get).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$(mkdir -p "${1:-dist}" && cd "${1:-dist}" && pwd)

deploy/install-deps.sh --package-tools

VERSION=$(dpkg-parsechangelog -S Version)
COMMIT=$(git describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sisopi-package.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
echo "== package sisopi $VERSION (commit $COMMIT) in $WORK"
# The files git knows or would add (uncommitted changes too), without build directories or .git.
mkdir -p "$WORK/sisopi-$VERSION"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp -a --parents -t "$WORK/sisopi-$VERSION"
(cd "$WORK/sisopi-$VERSION" &&
    SISOPI_COMMIT=$COMMIT dpkg-buildpackage -b -us -uc -j"$(nproc)" >"$WORK/build.log" 2>&1) || {
    tail -n 60 "$WORK/build.log" >&2
    echo "package.sh: dpkg-buildpackage failed (the end of its log above)" >&2
    exit 1
}
rm -f "$OUT"/sisopi_*
cp "$WORK"/sisopi_"$VERSION"_*.deb "$WORK"/sisopi_"$VERSION"_*.buildinfo \
    "$WORK"/sisopi_"$VERSION"_*.changes "$OUT"/
DEB=$(ls "$OUT"/sisopi_"$VERSION"_*.deb)
echo "== $DEB"
dpkg-deb --info "$DEB" | sed -n '/Package:/,$p'
echo "== lintian"
# --fail-on: errors and warnings fail; info and pedantic tags are printed for the reader.
if ! lintian --info --display-info --fail-on error,warning "$DEB" | tee "$OUT/lintian.txt"; then
    echo "package.sh: lintian reports errors or warnings (above, and in $OUT/lintian.txt)" >&2
    exit 1
fi
echo "package.sh: $DEB built; lintian: no error, no warning"
