"""The AsyncAPI document of the bus, as `sendx schemas asyncapi` writes it: valid JSON that lists
every event type and version with its schema, and every command subject of every service kind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from contracts.registry import all_events
from services.cli import main
from services.process import SERVICE_DEFINITIONS, definition_for

jsonschema = pytest.importorskip("jsonschema")


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("docs") / "asyncapi.json"
    assert main(["schemas", "asyncapi", str(out)]) == 0
    return orjson.loads(out.read_bytes())


def resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("%20", " ")]
    return node


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [v for k, v in node.items() if k == "$ref"]
        return own + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


def test_the_document_is_asyncapi_3_and_every_reference_resolves(document) -> None:
    assert document["asyncapi"] == "3.0.0"
    for ref in refs(document):
        resolve(document, ref)


def test_every_registered_event_version_has_a_channel_with_its_envelope_schema(document) -> None:
    # given every (type, version) of the registry
    for spec in all_events():
        # when its channel's message schema is resolved
        channel = document["channels"][spec.type]
        assert channel["address"] == f"send.evt.v1.{{source_org}}.{spec.type}.{{person_key}}"
        assert set(channel["parameters"]) == {"source_org", "person_key"}
        message = resolve(document, channel["messages"]["Message"]["$ref"])
        payload = resolve(document, message["payload"]["$ref"])
        alternatives = [resolve(document, a["$ref"]) for a in payload.get("anyOf", [])] or [payload]
        # then one alternative is that version's envelope
        versions = {a["properties"]["schema_version"]["const"] for a in alternatives}
        assert spec.version in versions, (spec.type, versions)


def test_an_example_event_validates_against_its_channel_schema(document) -> None:
    # given a v1 referral exactly as an old publisher sent it
    event = {
        "event_id": "7d1c5e0e-2f6a-4c7e-9a51-0a8f9b1d2c3e",
        "type": "health.referral_made",
        "schema_version": 1,
        "source_org": "RT5",
        "person_key": "p_" + "1" * 32,
        "occurred_at": "2024-11-04T00:00:00Z",
        "recorded_at": "2024-11-04T09:00:00Z",
        "correlation_id": "7d1c5e0e-2f6a-4c7e-9a51-0a8f9b1d2c3e",
        "source_position": 1,
        "payload": {"referral_id": "RT5-R-1", "referred_on": "2024-11-04", "pathway": "slt"},
    }
    message = document["components"]["messages"]["health.referral_made:Message"]
    schema = {"$ref": message["payload"]["$ref"], "components": document["components"]}
    # then the document's schema accepts it, and refuses it once a name rides along
    jsonschema.validate(event, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**event, "payload": {**event["payload"], "name": "Amelia"}}, schema)


def test_every_command_of_every_service_kind_has_a_subject(document) -> None:
    for kind in SERVICE_DEFINITIONS:
        for command in [*definition_for(kind).catalogue.commands]:
            channel = document["channels"][f"{kind.value}:{command.name}"]
            assert channel["address"] == f"send.cmd.{{org}}.{command.name}"
            assert document["operations"][f"{kind.value}:{command.name}"]["action"] == "receive"
        assert f"{kind.value}:import" in document["channels"]
    assert {"CommandReply", "ImportReply"} <= set(document["components"]["schemas"])


def test_schemas_export_writes_one_file_per_event_version(tmp_path: Path) -> None:
    assert main(["schemas", "export", str(tmp_path)]) == 0
    written = {p.name for p in tmp_path.glob("*.json")}
    assert {f"{s.type}.v{s.version}.json" for s in all_events()} | {"envelope.json"} == written
