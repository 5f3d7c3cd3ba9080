#!/usr/bin/env bash
# The compose stack's setup step: makes its secrets in deploy/compose/secrets/ (an internal CA
# and one certificate per service for the mutual TLS hop, the master key, the JWT secret, the
# two Redis passwords). Run it once; running it again keeps every existing key.
#   deploy/compose/setup.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/../secrets.sh" "$here/secrets"
