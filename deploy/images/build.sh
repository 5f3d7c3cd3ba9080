#!/usr/bin/env bash
# Builds Boussole's images from the repository's committed state (never from the working tree:
# `git archive` of a ref gives the build context, so uncommitted files stay out of images).
#
#   deploy/images/build.sh [-r REF] [-t TAG] [SERVICE...]
#
#   -r REF   what to build (default HEAD)
#   -t TAG   image tag (default latest); images are named boussole/<service>:<TAG>
#   SERVICE  sessions questionnaires syntheses gateway redis (default: every service present at
#            REF, plus redis, the Redis image the compose stack uses where no registry is
#            reachable)
#
# Environment: BSL_CONTAINER_TOOL (podman, the default, or docker), BSL_BUILD_FLAGS (extra
# flags for `build`, e.g. --pull=never where the base image was made by debian-base.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
REF=HEAD
TAG=latest
while getopts "r:t:" opt; do
    case $opt in
    r) REF=$OPTARG ;;
    t) TAG=$OPTARG ;;
    *) sed -n '2,16p' "$0" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
TOOL=${BSL_CONTAINER_TOOL:-podman}
read -r -a EXTRA <<<"${BSL_BUILD_FLAGS:-}"

services=("$@")
if [ ${#services[@]} -eq 0 ]; then
    for svc in sessions questionnaires syntheses gateway; do
        if git cat-file -e "$REF:services/$svc/CMakeLists.txt" 2>/dev/null; then
            services+=("$svc")
        fi
    done
    services+=(redis)
fi

ctx=$(mktemp -d "${TMPDIR:-/tmp}/boussole-context.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
git archive --format=tar "$REF" | tar -x -C "$ctx"
echo "build context: $(git rev-parse --short "$REF") ($REF), $(du -sh "$ctx" | cut -f1)"

format=()
if [ "$TOOL" = podman ]; then
    format=(--format docker) # keeps HEALTHCHECK
fi
# The build stage once, tagged, so that the service stages reuse it and pruning dangling images
# keeps its layers (the -dev packages) for the next build.
t0=$(date +%s)
"$TOOL" build "${format[@]}" "${EXTRA[@]}" --target build -t "boussole/build:$TAG" \
    -f "$ctx/deploy/images/Dockerfile" "$ctx"
echo "build stage boussole/build:$TAG built in $(($(date +%s) - t0)) s"
for svc in "${services[@]}"; do
    t0=$(date +%s)
    if [ "$svc" = redis ]; then
        "$TOOL" build "${format[@]}" "${EXTRA[@]}" -t "boussole/redis:$TAG" \
            -f "$ctx/deploy/images/redis.Dockerfile" "$ctx"
    else
        "$TOOL" build "${format[@]}" "${EXTRA[@]}" --target "$svc" \
            --label "org.opencontainers.image.revision=$(git rev-parse "$REF")" \
            -t "boussole/$svc:$TAG" -f "$ctx/deploy/images/Dockerfile" "$ctx"
    fi
    echo "image boussole/$svc:$TAG built in $(($(date +%s) - t0)) s"
done
