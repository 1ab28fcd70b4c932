#!/usr/bin/env bash
# Issue the partnership's TLS certificates with the openssl CLI (EC P-256).
#
#   deploy/pki/issue.sh DIR node NAME [HOST...]   a NATS node: serves clients and routes, and dials
#                                                 the other nodes' routes (serverAuth + clientAuth);
#                                                 subjectAltName = every HOST (default NAME), an IP
#                                                 address or a DNS name as it looks
#   deploy/pki/issue.sh DIR client NAME           a process's certificate, for mutual TLS (clientAuth)
#
# The first use creates the partnership CA in DIR (ca.crt, public; ca.key, keep it offline once
# the certificates are issued). Writes DIR/NAME.crt and DIR/NAME.key (0600). An existing NAME
# is never overwritten: delete it to re-issue. Validity: SENDX_PKI_DAYS (default 825 days).
set -euo pipefail
usage() { echo "usage: $0 DIR node NAME [HOST...] | $0 DIR client NAME" >&2; exit 2; }
[ $# -ge 3 ] || usage
dir=$1 kind=$2 name=$3
shift 3
days=${SENDX_PKI_DAYS:-825}
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
mkdir -p "$dir"
cd "$dir"
umask 077
if [ ! -f ca.crt ]; then
  openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.crt -days 3650 \
    -subj "/CN=send-exchange partnership CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  chmod 644 ca.crt
  echo "created the CA: $dir/ca.crt (and ca.key: keep it offline)" >&2
fi
if [ -e "$name.crt" ]; then echo "$dir/$name.crt exists: delete it to re-issue" >&2; exit 1; fi
if [ ! -f ca.key ]; then echo "$dir/ca.key is missing: bring the CA key back from where it is kept offline to issue" >&2; exit 1; fi
case "$kind" in
  node)
    [ $# -gt 0 ] || set -- "$name"
    sans=()
    for host in "$@"; do
      if [[ $host =~ ^[0-9.]+$ || $host == *:* ]]; then sans+=("IP:$host"); else sans+=("DNS:$host"); fi
    done
    ext="subjectAltName=$(IFS=,; echo "${sans[*]}")
extendedKeyUsage=serverAuth,clientAuth"
    ;;
  client) ext="extendedKeyUsage=clientAuth" ;;
  *) usage ;;
esac
printf '%s\nkeyUsage=critical,digitalSignature\n' "$ext" > "$name.ext"
openssl req "${ec[@]}" -keyout "$name.key" -out "$name.csr" -subj "/CN=$name" 2>/dev/null
openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days "$days" \
  -out "$name.crt" -extfile "$name.ext" 2>/dev/null
rm -f "$name.csr" "$name.ext"
chmod 644 "$name.crt"
echo "issued $dir/$name.crt ($kind)" >&2
