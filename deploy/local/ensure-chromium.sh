#!/usr/bin/env bash
# Install Debian's chromium for the end-to-end browser test (Playwright drives it; it cannot
# download its own browser here). Idempotent; needs root.
set -euo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" != 0 ]; then echo "ensure-chromium: chromium missing and not root; install it (apt-get install chromium)" >&2; exit 0; fi
apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
