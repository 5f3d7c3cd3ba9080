#!/usr/bin/env bash
# Runs in the images' build stage, after the CMake build: lays out, for each service that was
# built, what its runtime image gets, and works out which Debian packages it needs at run time.
#
#   deploy/images/stage.sh SOURCE_DIR BUILD_DIR OUT_DIR
#
# OUT_DIR/<service>/root/     copied as is into the service's image: its stripped
#                             executables in /usr/local/bin, its data files (services/<service>/
#                             data) in /usr/share/boussole/<service>
# OUT_DIR/<service>/packages  the Debian packages its executables link, plus those named in
#                             deploy/images/<service>.packages (files the code opens at run
#                             time, such as fonts), less the common ones
# OUT_DIR/common.packages     the packages every service needs (one shared image layer)
# OUT_DIR/probe/              bsl-probe, the HEALTHCHECK program
#
# Packages come from the executables themselves (ldd, then dpkg -S), so a library added to a
# service's CMakeLists.txt reaches its image with no change here.
set -euo pipefail
SRC=$1
BUILD=$2
OUT=$3
mkdir -p "$OUT"

# The package that owns a library path. With merged /usr, ldd may name /lib/... while dpkg
# registered /usr/lib/... (or the reverse), so both spellings are tried.
owner() {
    local p=$1 alt
    case $p in
    /usr/*) alt=${p#/usr} ;;
    *) alt=/usr$p ;;
    esac
    { dpkg -S "$p" 2>/dev/null || dpkg -S "$alt" 2>/dev/null || dpkg -S "$(readlink -f "$p")" 2>/dev/null; } |
        head -1 | cut -d: -f1
}

services=()
for dir in "$BUILD"/services/*/; do
    svc=$(basename "$dir")
    mapfile -t exes < <(find "$dir" -maxdepth 1 -type f -perm -u+x \( -name 'boussole-*' -o -name 'boussolectl' \) | sort)
    [ ${#exes[@]} -gt 0 ] || continue
    services+=("$svc")
    root=$OUT/$svc/root
    mkdir -p "$root/usr/local/bin"
    for exe in "${exes[@]}"; do
        install -m 0755 -s "$exe" "$root/usr/local/bin/"
    done
    if [ -d "$SRC/services/$svc/data" ]; then
        mkdir -p "$root/usr/share/boussole"
        cp -r "$SRC/services/$svc/data" "$root/usr/share/boussole/$svc"
        chmod -R a+rX,go-w "$root/usr/share/boussole"
    fi
    {
        for exe in "${exes[@]}"; do
            ldd "$exe" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
                while read -r lib; do
                    pkg=$(owner "$lib")
                    [ -n "$pkg" ] || { echo "stage.sh: no package owns $lib ($exe)" >&2; exit 1; }
                    echo "$pkg"
                done
        done
        if [ -f "$SRC/deploy/images/$svc.packages" ]; then
            grep -v '^#' "$SRC/deploy/images/$svc.packages" | tr -s ' \t' '\n\n' | sed '/^$/d'
        fi
    } | grep -vx -e libc6 -e libgcc-s1 | sort -u >"$OUT/$svc/all.packages"
    echo "stage.sh: $svc: ${exes[*]##*/}; packages: $(tr '\n' ' ' <"$OUT/$svc/all.packages")"
done
if [ ${#services[@]} -eq 0 ]; then
    echo "stage.sh: no service was built under $BUILD/services" >&2
    exit 1
fi

# Common packages: those in every service's list.
cp "$OUT/${services[0]}/all.packages" "$OUT/common.packages"
for svc in "${services[@]:1}"; do
    comm -12 "$OUT/common.packages" "$OUT/$svc/all.packages" >"$OUT/common.tmp"
    mv "$OUT/common.tmp" "$OUT/common.packages"
done
for svc in "${services[@]}"; do
    comm -23 "$OUT/$svc/all.packages" "$OUT/common.packages" >"$OUT/$svc/packages"
    rm "$OUT/$svc/all.packages"
done

mkdir -p "$OUT/probe/usr/local/bin"
cc -std=c17 -D_DEFAULT_SOURCE -Os -s -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
    -Wmissing-prototypes -Wformat=2 -o "$OUT/probe/usr/local/bin/bsl-probe" \
    "$SRC/deploy/images/probe.c"
echo "stage.sh: common packages: $(tr '\n' ' ' <"$OUT/common.packages")"
