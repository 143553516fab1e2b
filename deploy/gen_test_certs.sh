#!/bin/bash
# Generates TLS certificates for tests and trials (never for production):
#
#   deploy/gen_test_certs.sh DIR
#
# writes into DIR (created if needed):
#   ca.crt, ca.key          a self-signed test CA
#   server.crt, server.key  the server, SAN IP:127.0.0.1 and DNS:localhost
#   client.crt, client.key  a client certificate for mutual TLS
#   other_ca.crt, other_client.crt, other_client.key
#                           a second CA and a client it signed, which a server
#                           trusting only ca.crt must refuse
# ECDSA P-256 keys (fast to make); valid for 30 days.
set -euo pipefail

dir="${1:?usage: $0 DIR}"
mkdir -p "$dir"
cd "$dir"
days=30

make_ca() {  # NAME CN
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$1.key" -out "$1.crt" -days "$days" -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

make_leaf() {  # NAME CN CA EXTENSIONS
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
  printf '%s\n' "$4" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$3.crt" -CAkey "$3.key" -CAcreateserial \
    -out "$1.crt" -days "$days" -extfile "$1.ext" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

make_ca ca "parameter server test CA"
make_leaf server localhost ca "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth
basicConstraints=CA:FALSE"
make_leaf client ps-test-client ca "extendedKeyUsage=clientAuth
basicConstraints=CA:FALSE"
make_ca other_ca "untrusted test CA"
make_leaf other_client ps-untrusted-client other_ca "extendedKeyUsage=clientAuth
basicConstraints=CA:FALSE"
rm -f ./*.srl
chmod 600 ./*.key
echo "Test certificates in $dir"
