#!/usr/bin/env bash
# Install Node.js 18+ and npm for the partner example's test (examples/node/, run with the stock
# `nats` npm package; the test runs `npm ci` there itself, once per lock file). Idempotent; uses
# Debian's nodejs and npm packages, needs root to install.
set -euo pipefail
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 \
    && [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 18 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then echo "ensure-node: Node.js 18+ or npm missing and not root; install them (apt-get install nodejs npm)" >&2; exit 0; fi
apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >&2
