#!/usr/bin/env bash
# Installs the Debian packages muster needs to build, test or benchmark.
# usage: tools/deps.sh build|test|bench|fuzz|install|deb
# As root, missing packages are installed with apt-get; otherwise the exact
# apt-get line is printed and the script fails.
set -euo pipefail

build_pkgs="cmake make gcc pkg-config libuv1-dev libcjson-dev libmongoc-dev libbson-dev node-llhttp libssl-dev libhiredis-dev libnghttp2-dev zlib1g-dev"
install_pkgs="$build_pkgs scdoc"
deb_pkgs="$install_pkgs build-essential debhelper dpkg-dev fakeroot lintian"
# The operations tests (tests/ops, tests/ctl) build the package, render the
# man pages, run the bash completion and drive `musterctl top` in tmux; the
# status page test (tests/gw/test_status_page.py) drives headless chromium;
# the user/group test (tests/sup/test_supervise.py) uses unshare and mount.
# libwslay-dev: the oracle fuzz_ws checks rt_frame against (the fuzzer, and
# its corpus replayed under ctest); muster itself never links it. The
# cluster tests (tests/cluster) run redis-server, and haproxy in network
# namespaces made with iproute2. node-ws: the unmodified WebSocket app the
# upstream tunnel test (tests/up) puts behind muster. openssl: the TLS tests
# make their certificates with it; testssl.sh: tests/gw/test_testssl.py
# grades the TLS listener. python3-h2 and nghttp2-client (h2load, nghttp):
# the HTTP/2 tests (tests/gw/test_h2.py) craft frames and load the gateway;
# curl: --http2-prior-knowledge. python3-systemd: libsystemd's own
# sd_notify(3), the client tests/sup/test_sdnotify.py checks muster's
# NOTIFY_SOCKET against. tzdata: the cron tests' daylight saving changes.
# clang-format: the ctest "format"
# (tools/check-format.sh) checks the C sources against .clang-format.
test_pkgs="$deb_pkgs python3 python3-mockupdb python3-websockets node-ws apache2-utils man-db tmux bash-completion chromium util-linux mount libwslay-dev redis-server haproxy iproute2 openssl testssl.sh python3-h2 nghttp2-client curl python3-systemd tzdata clang-format"
# The TLS benchmark (bench/tls.py) loads with h2load (nghttp2-client) and
# makes its certificate with the openssl command; nginx-light has the ssl
# and http2 modules.
bench_pkgs="$build_pkgs wrk nginx-light nodejs haproxy nghttp2-client openssl"
fuzz_pkgs="$build_pkgs clang libclang-rt-14-dev libwslay-dev python3-h2"

case "${1:-build}" in
  build) want=$build_pkgs ;;
  test)  want=$test_pkgs ;;
  bench) want=$bench_pkgs ;;
  fuzz)  want=$fuzz_pkgs ;;
  install) want=$install_pkgs ;;
  deb)   want=$deb_pkgs ;;
  *) echo "usage: $0 build|test|bench|fuzz|install|deb" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
# Node.js: tests host a Node program; any node >= 12 on PATH will do.
if [ "${1:-build}" = test ] && ! command -v node >/dev/null 2>&1; then
  missing="$missing nodejs"
fi
# The WebSocket benchmark installs its peers (ws, Socket.IO) with npm ci;
# Debian's nodejs comes without npm, other builds of Node bring their own.
if [ "${1:-build}" = bench ] && ! command -v npm >/dev/null 2>&1; then
  missing="$missing npm"
fi

[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "muster: missing Debian packages. Run:" >&2
  echo "  sudo apt-get install -y$missing" >&2
  exit 1
fi
echo "muster: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists unless they were refreshed within the last day.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then
  apt-get update -qq
fi
apt-get install -y -qq --no-install-recommends $missing
