#!/bin/bash
# mkdeb.sh [BUILD] - the Debian package of this tree, from the usual tools:
# `make install DESTDIR=` into a staging folder (PREFIX=/usr, the libraries
# in the multiarch folder), binaries stripped as dh_strip does, man pages
# and the changelog compressed, Depends from dpkg-shlibdeps, the control
# file from dpkg-gencontrol (packaging/debian/control), md5sums, then
# dpkg-deb --root-owner-group.  The version is VERSION's; the changelog
# entry names the commit.  Prints the path of the .deb (in BUILD).
#   make deb           this, with BUILD=build
#   lintian FILE.deb   reports no error (tests/integration/67-deb.sh)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac

pkg=redis-tls-shim
version=$(cat "$ROOT/VERSION")
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
# The commit the binaries were built from (make writes it there).
commit=$(sed -n 's/^#define SHIM_COMMIT "\(.*\)"$/\1/p' "$BUILD/gen/shim_version.h")
# The changelog's date (and the files' mtimes): the commit's, so that two
# builds of one commit are the same package.
when=$(git -C "$ROOT" log -1 --format=%ct 2>/dev/null || date +%s)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$when}

work=$BUILD/deb
stage=$work/debian/$pkg
rm -rf "$work"
mkdir -p "$work/debian"
cp "$ROOT/packaging/debian/control" "$work/debian/control"
cat >"$work/debian/changelog" <<EOC
$pkg ($version) unstable; urgency=medium

  * Built from commit $commit.

 -- $(sed -n 's/^Maintainer: //p' "$ROOT/packaging/debian/control")  $(date -R -u -d "@$SOURCE_DATE_EPOCH")
EOC

make -s --no-print-directory -C "$ROOT" install BUILD="$BUILD" DESTDIR="$stage" \
	PREFIX=/usr LIBDIR="/usr/lib/$multiarch" >/dev/null

# Stripped as dh_strip strips (the build's own copies keep their symbols).
pkglib=$stage/usr/lib/$multiarch/$pkg
strip --remove-section=.comment --remove-section=.note --strip-unneeded \
	"$pkglib/libredistls.so" "$pkglib/libredistls-engine.so"
strip --remove-section=.comment --remove-section=.note "$stage/usr/bin/redis-tls-ctl" \
	"$pkglib/redis-tls-exec"

# Documentation: compressed (gzip -n: no name or time inside).
doc=$stage/usr/share/doc/$pkg
install -m 0644 "$ROOT/packaging/debian/copyright" "$doc/copyright"
gzip -9n -c "$work/debian/changelog" >"$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"
find "$stage/usr/share/man" -type f -name '*.[0-9]' -exec gzip -9n {} +
ln -sf redis-tls-run.1.gz "$stage/usr/share/man/man1/redis-tls-entrypoint.1.gz"
rm -f "$stage/usr/share/man/man1/redis-tls-entrypoint.1"

# Depends from the libraries the binaries link; the control file.
cd "$work"
dpkg-shlibdeps -Tdebian/substvars -e"$pkglib/libredistls.so" \
	-e"$pkglib/libredistls-engine.so" -e"$stage/usr/bin/redis-tls-ctl" \
	-e"$pkglib/redis-tls-exec" 2>&1 |
	grep -v 'binaries to analyze should already be installed' >&2 || true
mkdir -p "$stage/DEBIAN"
dpkg-gencontrol -p"$pkg" -Tdebian/substvars -P"$stage"
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z |
	xargs -0 md5sum >DEBIAN/md5sums)
chmod 0644 "$stage/DEBIAN/md5sums"
find "$stage" -newermt "@$SOURCE_DATE_EPOCH" -print0 | xargs -0 touch -h -d "@$SOURCE_DATE_EPOCH"

deb=$BUILD/${pkg}_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
