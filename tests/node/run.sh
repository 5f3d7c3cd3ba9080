#!/bin/sh
# Installs the npm packages of the Node client test (exact versions, package-lock.json) into a work
# directory, generates the client from proto/ with buf + protoc-gen-es, and runs the test.
#
#   tests/node/run.sh <work dir>
#
# The work directory (under the build tree) keeps node_modules between runs. The generated code
# sits below it, beside node_modules, so that its imports resolve. Called by
# tests/integration/gateway_node_test.c with the gateway's address and tokens in the
# environment.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
work=${1:?usage: run.sh <work dir>}
mkdir -p "$work"
cp "$here/package.json" "$here/package-lock.json" "$here/buf.gen.yaml" \
   "$here/client.test.mjs" "$work/"
cd "$work"
if ! cmp -s package.json node_modules/.boussole-package.json 2>/dev/null ||
   [ ! -x node_modules/.bin/buf ]; then
    # npm 11 warns that buf's install script was not run: the binary it needs comes from
    # the @bufbuild/buf-linux-x64 package anyway.
    npm install --no-audit --no-fund --loglevel=error
    cp package.json node_modules/.boussole-package.json
fi
rm -rf gen
./node_modules/.bin/buf generate "$src/proto" --template buf.gen.yaml
exec node client.test.mjs
