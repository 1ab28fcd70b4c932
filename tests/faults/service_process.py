"""One organisation's service as its own process, for the fault tests.

`python service_process.py KIND ORG`: exactly what `sendx service KIND --org ORG` runs (same
argument parser and defaults), without importing every other CLI command, so a fault test
depends only on the service's own code.
"""

from __future__ import annotations

import argparse
import sys

from sendx.commands import service

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="sendx")
    service.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["service", sys.argv[1], "--org", sys.argv[2]])
    sys.exit(args.func(args))
