#!/usr/bin/env bash
# Checks the Kubernetes manifests offline (there is no cluster here), run by tests/run.sh:
#   - yamllint (Debian's) on deploy/k8s and the compose file;
#   - tests/k8s/validate.mjs: every object against the Kubernetes schemas (npm
#     kubernetes-models), unknown fields, and what Boussole needs of the manifests (probes,
#     resources, HPA, PDB, headless Services, grace periods, NetworkPolicies, Secrets).
#   tests/k8s/validate.sh
# Installs yamllint (apt-get) and the npm packages, pinned, into $BSL_K8S_TOOLS (default
# /var/tmp/boussole-k8s-tools, outside the repository; reused by the next run).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
TOOLS=${BSL_K8S_TOOLS:-/var/tmp/boussole-k8s-tools}
start=$(date +%s)

if ! command -v yamllint >/dev/null || ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    pkgs=(yamllint)
    command -v node >/dev/null || pkgs+=(nodejs)
    command -v npm >/dev/null || pkgs+=(npm)
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "${pkgs[@]}" >/dev/null
fi
want="kubernetes-models@5.1.0 yaml@2.9.1"
if [ "$(cat "$TOOLS/installed" 2>/dev/null)" != "$want" ]; then
    mkdir -p "$TOOLS"
    (cd "$TOOLS" && [ -f package.json ] || echo '{"private": true}' >"$TOOLS/package.json")
    # shellcheck disable=SC2086
    npm install --prefix "$TOOLS" --no-audit --no-fund --silent $want
    echo "$want" >"$TOOLS/installed"
fi

echo "yamllint: deploy/k8s, deploy/compose/compose.yaml"
yamllint -s -c tests/k8s/yamllint.yaml deploy/k8s deploy/compose/compose.yaml

sample=$(mktemp -d)
trap 'rm -rf "$sample"' EXIT
deploy/secrets.sh "$sample" --dns boussole.svc >/dev/null
# The validator runs from the tools directory so that its imports resolve there.
cp tests/k8s/validate.mjs "$TOOLS/validate.mjs"
node "$TOOLS/validate.mjs" "$ROOT" "$sample"
echo "manifest checks done in $(($(date +%s) - start)) s"
