#!/usr/bin/env bash
# Makes the base image every Dockerfile here starts from, debian:bookworm-slim, from Debian's
# own packages, for machines that reach Debian's mirror but no container registry. Where a
# registry is reachable, the official image does the same job and this script is not needed.
#
#   deploy/images/debian-base.sh [CACHE_DIR]
#
# The root filesystem is made once with debootstrap (--variant=minbase), trimmed like the
# official slim image (no documentation, manual pages or translations; apt's lists and
# downloaded packages removed) and kept as a tarball in CACHE_DIR (default
# /var/tmp/boussole-images), then imported with `podman import` as
# docker.io/library/debian:bookworm-slim, so that an unchanged `FROM debian:bookworm-slim`
# builds with `podman build --pull=never`. A second run reuses the tarball and, when the image
# is still in podman's storage, does nothing. The tarball is made again when it is missing or
# older than BSL_BASE_MAX_AGE_DAYS (default 14) days, so security updates reach the images.
#
# Environment: BSL_DEBIAN_MIRROR (default: the first URI of /etc/apt/sources.list.d/
# debian.sources, else http://deb.debian.org/debian), BSL_BASE_MAX_AGE_DAYS.
# Needs root (debootstrap), debootstrap and podman.
set -euo pipefail

CACHE=${1:-/var/tmp/boussole-images}
IMAGE=docker.io/library/debian:bookworm-slim
TARBALL=$CACHE/debian-bookworm-slim.tar
MAX_AGE=${BSL_BASE_MAX_AGE_DAYS:-14}

mirror=${BSL_DEBIAN_MIRROR:-}
if [ -z "$mirror" ] && [ -r /etc/apt/sources.list.d/debian.sources ]; then
    mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
fi
mirror=${mirror:-http://deb.debian.org/debian}
# The security archive sits beside the main one on Debian's mirrors.
security=${mirror%/debian}/debian-security

mkdir -p "$CACHE"
if [ -s "$TARBALL" ] && [ -n "$(find "$TARBALL" -mtime -"$MAX_AGE" 2>/dev/null)" ]; then
    if podman image exists "$IMAGE" &&
        [ "$(podman image inspect -f '{{index .Labels "org.boussole.base"}}' "$IMAGE" 2>/dev/null)" \
            = "$(stat -c %Y "$TARBALL")" ]; then
        echo "base image $IMAGE: up to date"
        exit 0
    fi
else
    echo "base image: debootstrap --variant=minbase bookworm from $mirror"
    rootfs=$(mktemp -d "$CACHE/rootfs.XXXXXX")
    trap 'rm -rf "$rootfs"' EXIT
    debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$CACHE/debootstrap.log" 2>&1 || {
        tail -20 "$CACHE/debootstrap.log" >&2
        exit 1
    }
    # What the official slim image does: dpkg leaves out documentation and translations
    # (copyright files stay), apt keeps no downloaded packages and installs no recommends.
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
EOF
    cat >"$rootfs/etc/apt/apt.conf.d/slim" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::GzipIndexes "true";
Acquire::CompressionTypes::Order:: "gz";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
EOF
    cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
EOF
    find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$rootfs"/usr/share/{man,info,locale,groff,lintian,linda}/* \
        "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/log/*.log \
        "$rootfs"/var/cache/debconf/*-old "$rootfs"/tmp/*
    tar --numeric-owner -C "$rootfs" -cf "$TARBALL.tmp" .
    mv "$TARBALL.tmp" "$TARBALL"
    rm -rf "$rootfs"
    trap - EXIT
fi
stamp=$(stat -c %Y "$TARBALL")
podman import -q --change "LABEL org.boussole.base=$stamp" --change 'CMD ["bash"]' \
    "$TARBALL" "$IMAGE" >/dev/null
echo "base image $IMAGE: imported ($(du -h "$TARBALL" | cut -f1) tarball)"
