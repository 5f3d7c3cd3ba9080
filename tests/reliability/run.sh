#!/usr/bin/env bash
# The reliability stage of the test command (tests/run.sh runs it after the fuzz stage; the
# hostile-input, access-control and fault suites run earlier, as integration tests
# tests/integration/reliability_*_test.c, in both builds):
#   1. a network cut between the gateway and one sessions replica (network namespaces on a
#      bridge of our own, an iptables drop inside one of them);
#   2. a soak through the gateway at about 70 % of the measured maximum (1 minute; BSL_LONG=1:
#      10 minutes), with throughput, latency, errors, memory and a search of every log for
#      secrets;
#   3. a valgrind pass of every service and the gateway (leaks and memory errors).
# Installs what it needs (apt-get), reuses the release build in build/ (BSL_BUILD_DIR to use
# another; builds it when absent), cleans up namespaces, bridge and processes even on failure,
# prints timings and figures (also in <build>/reliability/summary.txt), exits non-zero on any
# failure.
#   tests/reliability/run.sh
# Environment:
#   BSL_LONG=1              10-minute soak (BSL_SOAK_SECONDS overrides; default 60)
#   BSL_BUILD_DIR=build     the release build to test
#   BSL_RELIABILITY_ONLY="netcut soak valgrind"   a subset
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
B=$(realpath -m "${BSL_BUILD_DIR:-$ROOT/build}")
OUT=$B/reliability
ONLY=${BSL_RELIABILITY_ONLY:-netcut soak valgrind}
start=$(date +%s)
step() { printf '\n== reliability: %s (%ds)\n' "$*" $(($(date +%s) - start)); }

step "dependencies"
missing=()
command -v ip >/dev/null || missing+=(iproute2)
command -v iptables >/dev/null || missing+=(iptables)
command -v valgrind >/dev/null || missing+=(valgrind)
command -v redis-server >/dev/null || missing+=(redis-server)
command -v cc >/dev/null || missing+=(gcc)
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

step "build ($B)"
if [ ! -x "$B/services/gateway/boussole-gateway" ] || [ ! -x "$B/services/syntheses/boussole-syntheses" ]; then
    cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$B" -j"$(nproc)"
fi
if grep -q '^BSL_SANITIZE:BOOL=ON' "$B/CMakeCache.txt" 2>/dev/null; then
    echo "reliability: $B is a sanitized build; valgrind and the soak need the release build" >&2
    exit 1
fi
rm -rf "$OUT"
mkdir -p "$OUT"
cc -std=c17 -O2 -g -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
    -Wformat=2 -Wno-unused-parameter -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
    -o "$OUT/bsl-reliability" tests/reliability/reliability.c
export BSL_BUILD_DIR=$B BSL_REL_DIR=$OUT/run BSL_REL_PIDS=$OUT/pids
export BSL_VALGRIND_SUPPRESSIONS=$ROOT/tests/reliability/valgrind.supp
if [ "${BSL_LONG:-0}" = 1 ]; then
    export BSL_SOAK_SECONDS=${BSL_SOAK_SECONDS:-600}
else
    export BSL_SOAK_SECONDS=${BSL_SOAK_SECONDS:-60}
fi

# ---- the network of the cut: a bridge and three namespaces, all ours ---------------------
tag=$(( $$ % 100000 ))
BR=brrel$tag
NS_GW=relgw$tag NS_S1=rels1$tag NS_S2=rels2$tag
net_made=0

cleanup() {
    local rc=$?
    set +e
    # What the driver started and left running (it kills its own at exit; this is for a driver
    # that was itself killed): only processes that are still ours, never a recycled pid.
    if [ -f "$OUT/pids" ]; then
        while read -r pid; do
            [ -n "$pid" ] && [ -d "/proc/$pid" ] || continue
            if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$B/" ||
                readlink "/proc/$pid/cwd" 2>/dev/null | grep -qF "$OUT/"; then
                kill -KILL "$pid" 2>/dev/null
            fi
        done <"$OUT/pids"
    fi
    if [ "$net_made" = 1 ]; then
        for ns in $NS_GW $NS_S1 $NS_S2; do
            for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
            ip netns del "$ns" 2>/dev/null
        done
        ip link del "$BR" 2>/dev/null
    fi
    exit $rc
}
trap cleanup EXIT INT TERM

make_net() {
    [ "$(id -u)" = 0 ] || { echo "reliability: the network cut needs root (network namespaces)" >&2; return 1; }
    # A /24 of 10.200.0.0/16 that nothing on this host uses.
    local x
    for x in $(seq $(( tag % 200 + 20 )) 254) $(seq 20 254); do
        if ! ip -o -4 addr show | grep -q " 10\.200\.$x\."; then PREFIX=10.200.$x; break; fi
    done
    [ -n "${PREFIX:-}" ] || { echo "reliability: no free 10.200.x.0/24" >&2; return 1; }
    net_made=1
    ip link add "$BR" type bridge
    ip addr add "$PREFIX.1/24" dev "$BR"
    ip link set "$BR" up
    local i=0 ns octet
    for ns in $NS_GW $NS_S1 $NS_S2; do
        octet=$(( 10 + i )); i=$(( i + 1 ))
        ip netns add "$ns"
        ip link add "vh$tag$i" type veth peer name "vn$tag$i"
        ip link set "vh$tag$i" master "$BR" up
        ip link set "vn$tag$i" netns "$ns"
        ip -n "$ns" addr add "$PREFIX.$octet/24" dev "vn$tag$i"
        ip -n "$ns" link set "vn$tag$i" up
        ip -n "$ns" link set lo up
    done
    export BSL_NET_PREFIX=$PREFIX BSL_NET_GW_NS=$NS_GW BSL_NET_S1_NS=$NS_S1 BSL_NET_S2_NS=$NS_S2
}

status=0
for part in $ONLY; do
    step "$part"
    t0=$(date +%s)
    if [ "$part" = netcut ]; then
        if ! make_net; then
            echo "reliability: cannot make the test network" >&2
            status=1
            continue
        fi
    fi
    if "$OUT/bsl-reliability" "$part"; then
        echo "reliability: $part passed in $(( $(date +%s) - t0 )) s"
    else
        echo "reliability: $part FAILED after $(( $(date +%s) - t0 )) s (logs in $OUT/run/$part)" >&2
        status=1
    fi
done

step "summary"
cat "$OUT/run/summary.txt" 2>/dev/null | tee "$OUT/summary.txt" || true
echo "reliability stage: $(( $(date +%s) - start )) s, $( [ $status = 0 ] && echo passed || echo FAILED)"
exit $status
