"""`sendx schemas export DIR`, `asyncapi FILE`, `guide FILE`: the published data standard.

`export` writes the JSON Schema of the envelope and of every event version (one file each);
`asyncapi` writes the AsyncAPI 3.0 document of the whole bus: every event subject with its
payload schemas and the command subjects of every service kind (`sendx.asyncapi`);
`guide` rewrites the command reference of docs/partners.md (`sendx.command_reference`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import orjson
from pydantic import BaseModel

from contracts.schemas import BASE_URI, event_schemas
from sendx.asyncapi import bus_document
from sendx.command_reference import reference, replace_section
from services.endpoint.process import SERVICE_DEFINITIONS, definition_for

PRETTY = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("schemas", help="export the JSON Schemas and AsyncAPI of the bus")
    sub = p.add_subparsers(dest="action", required=True)
    export = sub.add_parser("export", help="write one <type>.v<N>.json file per event version")
    export.add_argument("out_dir", type=Path)
    export.add_argument(
        "--base-uri", default=BASE_URI,
        help=f"prefix of every schema's $id (default {BASE_URI}; e.g. the URL you publish at)",
    )
    export.set_defaults(func=run_export)
    asyncapi = sub.add_parser("asyncapi", help="write the AsyncAPI 3.0 document of the bus")
    asyncapi.add_argument("out_file", type=Path, help="e.g. docs/asyncapi.json")
    asyncapi.set_defaults(func=run_asyncapi)
    guide = sub.add_parser(
        "guide", help="rewrite the generated command reference of the partner guide"
    )
    guide.add_argument("file", type=Path, help="docs/partners.md")
    guide.set_defaults(func=run_guide)


def service_commands() -> dict[str, list[type[BaseModel]]]:
    """Every service kind's commands, by kind, from the registered service definitions."""
    return {
        kind.value: list(definition_for(kind).catalogue.commands) for kind in SERVICE_DEFINITIONS
    }


def asyncapi_document() -> dict[str, Any]:
    """From the command table each kind's service dispatches by (`ServiceDefinition.api`)."""
    return bus_document(definition_for(kind).api for kind in SERVICE_DEFINITIONS)


def run_export(args: argparse.Namespace) -> int:
    args.out_dir.mkdir(parents=True, exist_ok=True)
    schemas = event_schemas(args.base_uri)
    for name, schema in schemas.items():
        (args.out_dir / f"{name}.json").write_bytes(orjson.dumps(schema, option=PRETTY))
    print(f"wrote {len(schemas)} schemas to {args.out_dir}")
    return 0


def run_asyncapi(args: argparse.Namespace) -> int:
    document = asyncapi_document()
    args.out_file.parent.mkdir(parents=True, exist_ok=True)
    args.out_file.write_bytes(orjson.dumps(document, option=PRETTY))
    print(
        f"wrote AsyncAPI {document['asyncapi']} with {len(document['channels'])} channels "
        f"to {args.out_file}"
    )
    return 0


def run_guide(args: argparse.Namespace) -> int:
    text = args.file.read_text(encoding="utf-8")
    updated = replace_section(text, reference(service_commands()))
    if updated != text:
        args.file.write_text(updated, encoding="utf-8")
    print(f"{args.file}: command reference {'rewritten' if updated != text else 'up to date'}")
    return 0
