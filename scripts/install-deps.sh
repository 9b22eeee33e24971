#!/usr/bin/env bash
# The one place the system package list lives. Installs only what is missing.
# Usage: install-deps.sh [bench]   (bench adds the load generators `make bench` needs)
set -euo pipefail

packages=(
  build-essential cmake ccache pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libsqlite3-dev libhiredis-dev redis-server libyaml-cpp-dev libtomlplusplus-dev libspdlog-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev
  libssh-dev libssl-dev openssl libcurl4-openssl-dev openssh-server openssh-client qemu-guest-agent
  libgrpc++-dev libprotobuf-dev protobuf-compiler python3-grpcio python3-grpc-tools python3-protobuf
  prometheus-cpp-dev python3-prometheus-client
  python3 python3-pytest python3-jsonschema procps curl ansible-core iproute2 nftables
  clang libfuzzer-14-dev
  libjs-chart.js chromium chromium-driver python3-selenium
)
bench_packages=(wrk pdsh pssh clustershell python3-celery python3-redis redis-tools)
[ "${1:-}" = "bench" ] && packages+=("${bench_packages[@]}")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The dashboard's xterm.js comes from the npm registry at build time
# (web/package-lock.json). nodesource's nodejs ships its own npm, which
# conflicts with Debian's npm package: install Debian's only when no npm is there.
command -v npm >/dev/null || missing+=(nodejs npm)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
