#!/usr/bin/env bash
# Ensure a Docker Compose v2 binary for `compose config` (the check that deploy/compose/compose.yaml
# is a valid compose file; it needs no Docker engine), idempotently, and print its path.
# Used by `make test` (tests/sendx/deployment/test_compose_config.py reads the path from $SENDX_COMPOSE).
#
# Order: the project-local copy (.sendx/tools/docker-compose), then a v2 `docker-compose` on
# PATH, else Debian's package docker-compose 2.26.1-4 (the static compose plugin, which also runs
# standalone) is downloaded from the Debian mirror this machine's apt sources already use, its
# SHA256 checked against the pin below, and the binary extracted into .sendx/tools/.
# Needs curl or wget, and dpkg-deb or ar + tar; no root. With --find it only looks, never downloads.
set -euo pipefail
log() { echo "ensure-compose: $*" >&2; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TOOLS=${SENDX_TOOLS_DIR:-$ROOT/.sendx/tools}
TARGET=$TOOLS/docker-compose
# Debian trixie's docker-compose, pinned: the pool path is the same under every Debian mirror.
POOL_PATH=pool/main/d/docker-compose/docker-compose_2.26.1-4_amd64.deb
SHA256=47681197cb2b1ab88206b42a1a92fc75f50d9530a6322d03494a473eed0408ea
MEMBER=usr/libexec/docker/cli-plugins/docker-compose
APT_SOURCES=${SENDX_APT_SOURCES:-/etc/apt}

is_v2() { "$1" version --short 2>/dev/null | grep -Eq '^v?2\.'; }

if [ -x "$TARGET" ] && is_v2 "$TARGET"; then echo "$TARGET"; exit 0; fi
if found=$(command -v docker-compose 2>/dev/null) && is_v2 "$found"; then echo "$found"; exit 0; fi
if [ "${1:-}" = --find ]; then log "no compose v2 found (run deploy/local/ensure-compose.sh to fetch one)"; exit 1; fi

arch=$(dpkg --print-architecture 2>/dev/null || uname -m)
case "$arch" in
  amd64|x86_64) ;;
  *) log "no compose v2 found, and the pinned package is for amd64, not $arch: install Docker Compose v2"; exit 1 ;;
esac

# Every Debian archive URI of the apt sources (deb822 `URIs:` lines and one-line `deb` entries),
# the main archive before the security one (the pool file is in the main archive).
mirrors() {
  {
    for f in "$APT_SOURCES"/sources.list.d/*.sources; do
      [ -f "$f" ] && awk 'tolower($1) == "uris:" { for (i = 2; i <= NF; i++) print $i }' "$f"
    done
    for f in "$APT_SOURCES"/sources.list "$APT_SOURCES"/sources.list.d/*.list; do
      [ -f "$f" ] && awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' "$f"
    done
  } | sed 's:/*$::' | awk '!seen[$0]++' | awk '/security/ { late[n++] = $0; next } { print } END { for (i = 0; i < n; i++) print late[i] }'
}

fetch() {
  if command -v curl >/dev/null 2>&1; then curl -fsSL --retry 2 --connect-timeout 15 -o "$2" "$1"
  else wget -q -T 15 -O "$2" "$1"; fi
}

extract() {
  if command -v dpkg-deb >/dev/null 2>&1; then
    dpkg-deb --fsys-tarfile "$1" | tar -xO "./$MEMBER"
  else
    local data unpack
    data=$(ar t "$1" | grep '^data\.tar')
    case "$data" in
      *.xz) unpack=(xz -dc) ;; *.gz) unpack=(gzip -dc) ;; *.zst) unpack=(zstd -dc) ;; *) unpack=(cat) ;;
    esac
    ar p "$1" "$data" | "${unpack[@]}" | tar -xO -f - "./$MEMBER"
  fi
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
deb=$work/docker-compose.deb
tried=()
for mirror in $(mirrors); do
  tried+=("$mirror")
  log "downloading $mirror/$POOL_PATH"
  if ! fetch "$mirror/$POOL_PATH" "$deb"; then log "not available from $mirror"; continue; fi
  actual=$(sha256sum "$deb" | cut -d' ' -f1)
  if [ "$actual" != "$SHA256" ]; then
    log "SHA256 mismatch from $mirror: expected $SHA256, got $actual; not using it"
    continue
  fi
  mkdir -p "$TOOLS"
  extract "$deb" > "$work/docker-compose"
  chmod 755 "$work/docker-compose"
  is_v2 "$work/docker-compose" || { log "the extracted binary does not run as compose v2"; exit 1; }
  mv "$work/docker-compose" "$TARGET"
  log "installed $("$TARGET" version --short) at $TARGET"
  echo "$TARGET"
  exit 0
done
if [ ${#tried[@]} -eq 0 ]; then
  log "no compose v2 found and no Debian mirror in $APT_SOURCES/sources.list{,.d/*.sources,.d/*.list}"
else
  log "no compose v2 found and no mirror served $POOL_PATH with SHA256 $SHA256 (tried: ${tried[*]})"
fi
exit 1
