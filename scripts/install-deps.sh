#!/bin/sh
# Install the Debian packages the build, the tests and the demo need, if any
# is missing.  Quiet when everything is there.
set -eu
PKGS="build-essential pkg-config libssl-dev libconfig-dev libcmocka-dev
      openssl redis-server redis-tools python3 python3-redis ruby ruby-redis
      stunnel4 libhiredis-dev libevent-dev valgrind clang libclang-rt-14-dev
      libasan8 libubsan1 libtsan2 util-linux liburing-dev
      golang-go golang-github-gomodule-redigo-dev
      dpkg-dev lintian man-db groff-base node-redis php-cli php-redis strace"
# make deb and its test: dpkg-dev (dpkg-shlibdeps, dpkg-gencontrol),
# lintian (about 130 small packages, mostly perl modules: the one big
# cost), man-db and groff-base (man -l).  No debhelper: scripts/mkdeb.sh
# stages `make install` and calls dpkg's own tools.
# node-redis, php-cli, php-redis: the client-language table of make bench.
# strace: 12-never-plaintext's tracer case (a getsockopt answered by a
# tracer, not a supervisor).
# Node.js and npm come with this kind of machine; Debian's serve otherwise
# (npm: scripts/bench.sh installs ioredis with it, tests/clients/bench/).
command -v node >/dev/null 2>&1 || PKGS="$PKGS nodejs"
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing (run as root, or install them)" >&2
	exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >/dev/null
# Debian starts a system redis-server on 6379 when installed: the tests do
# not use it, so stop it rather than leave a plaintext server running.
if command -v systemctl >/dev/null 2>&1; then systemctl stop redis-server 2>/dev/null || true; fi
