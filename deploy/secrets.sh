#!/usr/bin/env bash
# Makes the secrets a Boussole deployment needs, once, into a directory of its own:
#
#   deploy/secrets.sh OUT_DIR [--dns NAME]... [--days N]
#
#   --dns NAME   add NAME (and NAME.<service>…) to the names in the service certificates, e.g.
#                --dns boussole.svc --dns boussole.svc.cluster.local for a Kubernetes
#                namespace "boussole" (the short service names are always in)
#   --days N     certificate validity (default 397)
#
# What it makes (a file that exists already is kept: running it again never replaces a key,
# so data sealed under the master key stays readable; delete a file to make it again):
#
#   ca/ca.key, ca/ca.crt       the internal CA (EC P-256). ca.key never leaves OUT_DIR/ca.
#   ca.crt                     the CA certificate every process trusts
#   <service>/tls.crt, tls.key for sessions, questionnaires, syntheses, gateway: one
#                              certificate per service (serverAuth + clientAuth; names
#                              <service> and <service>.<dns>) for the mutual TLS internal hop
#   master.keys                the master key that wraps every data key: id:base64(32 bytes)
#   jwt.secret                 the HS256 secret the gateway checks tokens with when no public
#                              key is configured (development and tests; production gives the
#                              identity provider's public key instead)
#   redis.password, keystore.password, and redis-auth.conf / keystore-auth.conf holding
#                              "requirepass ..." for the two Redis servers (data, keystore)
#   redis.env                  BSL_REDIS_URL and BSL_KEYSTORE_URL with those passwords, for the
#                              services' environment
#
# OUT_DIR is made 0700; the files are 0644 inside it (a container's user, uid 10001, reads the
# single files mounted into it), except the CA key (0600).
set -euo pipefail

OUT=${1:?usage: deploy/secrets.sh OUT_DIR [--dns NAME]... [--days N]}
shift
DNS=()
DAYS=397
while [ $# -gt 0 ]; do
    case $1 in
    --dns) DNS+=("$2"); shift 2 ;;
    --days) DAYS=$2; shift 2 ;;
    *) echo "secrets.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
command -v openssl >/dev/null || { echo "secrets.sh: openssl is needed" >&2; exit 1; }

umask 077
mkdir -p "$OUT/ca"
chmod 0700 "$OUT" "$OUT/ca"
made=()

# The CA.
if [ ! -s "$OUT/ca/ca.key" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$OUT/ca/ca.key" -out "$OUT/ca/ca.crt" -days 3650 -sha256 \
        -subj "/O=Boussole/CN=Boussole internal CA $(date +%Y-%m-%d)" \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    rm -f "$OUT"/*/tls.crt # certificates of an older CA would no longer verify
    made+=("CA")
fi
install -m 0644 "$OUT/ca/ca.crt" "$OUT/ca.crt"

# One certificate per process, used as server and as client certificate.
for svc in sessions questionnaires syntheses gateway; do
    dir=$OUT/$svc
    mkdir -p "$dir"
    chmod 0755 "$dir"
    if [ -s "$dir/tls.crt" ] && [ -s "$dir/tls.key" ] &&
        openssl verify -CAfile "$OUT/ca/ca.crt" "$dir/tls.crt" >/dev/null 2>&1; then
        continue
    fi
    names="DNS:$svc"
    for d in "${DNS[@]}"; do
        names="$names,DNS:$svc.$d"
    done
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$dir/tls.key" -out "$dir/tls.csr" -subj "/O=Boussole/CN=$svc" 2>/dev/null
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=critical,digitalSignature\nbasicConstraints=critical,CA:FALSE\n' \
        "$names" >"$dir/ext.cnf"
    openssl x509 -req -in "$dir/tls.csr" -CA "$OUT/ca/ca.crt" -CAkey "$OUT/ca/ca.key" \
        -CAcreateserial -CAserial "$OUT/ca/ca.srl" -out "$dir/tls.crt" -days "$DAYS" -sha256 \
        -extfile "$dir/ext.cnf" 2>/dev/null
    rm -f "$dir/tls.csr" "$dir/ext.cnf"
    chmod 0644 "$dir/tls.crt" "$dir/tls.key"
    made+=("$svc certificate")
done

random_b64() { head -c "$1" /dev/urandom | base64 -w0; }
random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

if [ ! -s "$OUT/master.keys" ]; then
    echo "k$(date +%Y%m%d):$(random_b64 32)" >"$OUT/master.keys"
    made+=("master key")
fi
if [ ! -s "$OUT/jwt.secret" ]; then
    random_b64 32 >"$OUT/jwt.secret"
    made+=("JWT secret")
fi
for r in redis keystore; do
    if [ ! -s "$OUT/$r.password" ]; then
        random_hex 24 >"$OUT/$r.password"
        made+=("$r password")
    fi
    echo "requirepass $(cat "$OUT/$r.password")" >"$OUT/$r-auth.conf"
done
{
    echo "BSL_REDIS_URL=redis://:$(cat "$OUT/redis.password")@redis:6379"
    echo "BSL_KEYSTORE_URL=redis://:$(cat "$OUT/keystore.password")@keystore:6379"
} >"$OUT/redis.env"
chmod 0644 "$OUT"/*.keys "$OUT"/*.secret "$OUT"/*.password "$OUT"/*.conf "$OUT"/redis.env
chmod 0600 "$OUT/ca/ca.key"

if [ ${#made[@]} -gt 0 ]; then
    echo "secrets.sh: made ${made[*]} in $OUT"
else
    echo "secrets.sh: $OUT already complete"
fi
