"""`sendx schemas export DIR`: write the JSON Schema of the envelope and of every event version."""

from __future__ import annotations

import argparse
from pathlib import Path

import orjson

from contracts.schemas import event_schemas


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("schemas", help="export the JSON Schemas of the data standard")
    sub = p.add_subparsers(dest="action", required=True)
    export = sub.add_parser("export", help="write one <type>.v<N>.json file per event version")
    export.add_argument("out_dir", type=Path)
    export.set_defaults(func=run_export)


def run_export(args: argparse.Namespace) -> int:
    args.out_dir.mkdir(parents=True, exist_ok=True)
    schemas = event_schemas()
    for name, schema in schemas.items():
        (args.out_dir / f"{name}.json").write_bytes(
            orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
        )
    print(f"wrote {len(schemas)} schemas to {args.out_dir}")
    return 0
