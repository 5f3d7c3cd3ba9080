#!/usr/bin/env bash
# Installs the Debian 12 packages Boussole needs to build, run and test, skipping those already
# present (so a second run costs a second). Needs root (or sudo) only when something is missing.
#   deploy/local/install-deps.sh [build|test|bench]
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config protobuf-c-compiler libprotobuf-c-dev libprotobuf-dev
            libnng-dev libev-dev libhiredis-dev libsodium-dev libjansson-dev libjwt-dev
            libmicrohttpd-dev
            libcairo2-dev libpango1.0-dev fonts-dejavu-core zlib1g-dev redis-server redis-tools
            curl)
test_pkgs=(libcmocka-dev nodejs openssl clang libclang-rt-14-dev libfuzzer-14-dev poppler-utils wrk jq
           valgrind)
# The side-by-side anchors of ../shared/anchors (gRPC C++ echo) for tests/bench/run.sh.
bench_pkgs=(libgrpc++-dev protobuf-compiler-grpc protobuf-compiler wrk hyperfine linux-perf)

want=("${build_pkgs[@]}")
case "${1:-build}" in
test) want+=("${test_pkgs[@]}") ;;
bench) want+=("${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
esac

# Node.js may come from NodeSource (npm included) or from Debian (npm separate): ask for npm
# only when it is not there.
if [ "${1:-build}" != build ] && ! command -v npm >/dev/null 2>&1; then
    want+=(npm)
fi

missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
echo "installing: ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
