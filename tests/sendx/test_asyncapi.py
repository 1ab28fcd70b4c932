"""The AsyncAPI document of the bus, as `sendx schemas asyncapi` writes it: valid JSON that lists
every event type and version with its schema, and every command subject of every service kind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from contracts.registry import all_events
from sendx.cli import main
from services.endpoint.command_api import Desk
from services.endpoint.process import SERVICE_DEFINITIONS, definition_for
from tests.contracts.wire_examples import V1_REFERRAL
from tests.npm import npm_ci

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
    event = dict(V1_REFERRAL)
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


SPEC_PACKAGE = Path(__file__).parent / "asyncapi-spec"


def command_operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: op for name, op in document["operations"].items()
        if resolve(document, op["channel"]["$ref"]).get("address", "").startswith("send.cmd.")
    }


def test_the_document_is_valid_against_the_official_asyncapi_3_schema(document) -> None:
    # given the AsyncAPI initiative's own JSON Schema of AsyncAPI 3.0.0 (npm @asyncapi/specs)
    modules = npm_ci(SPEC_PACKAGE)
    spec = orjson.loads((modules / "@asyncapi/specs/schemas/3.0.0-without-$id.json").read_bytes())
    validator = jsonschema.validators.validator_for(spec)(spec)
    # then the document has no error, and the check is real: a bad security scheme is one
    assert [e.message[:200] for e in validator.iter_errors(document)][:3] == []
    broken = orjson.loads(orjson.dumps(document))
    broken["components"]["securitySchemes"]["userPassword"]["type"] = "password please"
    assert not validator.is_valid(broken)


def test_every_command_has_its_reply_on_the_request_s_reply_subject(document) -> None:
    operations = command_operations(document)
    expected = {f"{k.value}:{c.name}" for k in SERVICE_DEFINITIONS
                for c in definition_for(k).catalogue.commands}
    expected |= {f"{k.value}:import" for k in SERVICE_DEFINITIONS}
    assert set(operations) == expected
    for name, operation in operations.items():
        # the reply comes on a channel whose address is dynamic: the request's reply subject
        reply = operation["reply"]
        channel = resolve(document, reply["channel"]["$ref"])
        assert channel["address"] is None
        assert "reply subject" in channel["description"]
        assert "_INBOX.<user>" in channel["description"]
        (message_ref,) = reply["messages"]
        message = resolve(document, message_ref["$ref"])
        if "$ref" in message:
            message = resolve(document, message["$ref"])
        wanted = "ImportReply" if name.endswith(":import") else "CommandReply"
        assert message["payload"] == {"$ref": f"#/components/schemas/{wanted}"}, name


def test_reply_schemas_accept_the_replies_the_services_send_and_nothing_else(document) -> None:
    components = {"components": document["components"]}

    def schema(name: str) -> dict[str, Any]:
        return {"$ref": f"#/components/schemas/{name}", **components}

    ok = {"ok": True, "event_ids": ["7d1c5e0e-2f6a-4c7e-9a51-0a8f9b1d2c3e"], "duplicate": False}
    refused = {"ok": False, "error": "field nhs_number: NHS number fails the modulus-11 check"}
    rows = {"ok": True, "accepted": 1, "duplicates": 0, "rejected": 1, "rows": [
        {"row": 1, "record_id": "A-1", "accepted": True, "event_ids": [], "duplicate": True},
        {"row": 2, "record_id": None, "accepted": False, "error": "row 2, field record_id: …"},
    ]}
    for body in (ok, refused):
        jsonschema.validate(body, schema("CommandReply"))
    jsonschema.validate(rows, schema("ImportReply"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**ok, "correlation_id": "x"}, schema("CommandReply"))


def test_a_command_body_with_its_record_id_validates_against_its_message(document) -> None:
    message = document["components"]["messages"]["la:person.register:SubscribeMessage"]
    schema = {"$ref": message["payload"]["$ref"], "components": document["components"]}
    body = {"nhs_number": "943 476 5919", "given_name": "Amelia", "family_name": "Okonkwo",
            "born_on": "2011-04-17", "record_id": "MIS-1"}
    jsonschema.validate(body, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**body, "colour": "red"}, schema)


def test_servers_require_a_user_and_password_and_production_tls(document) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["userPassword"]["type"] == "userPassword"
    assert "<kind>-<org>-client" in schemes["userPassword"]["description"]
    assert schemes["clientCertificate"]["type"] == "X509"
    for name, server in document["servers"].items():
        assert [resolve(document, s["$ref"]) for s in server["security"]] == [
            schemes["userPassword"]
        ], name
    production = document["servers"]["production"]
    assert "tls" in {t["name"] for t in production["tags"]}
    assert "handshake first" in production["description"]


def test_correlation_is_never_a_header_that_does_not_exist(document) -> None:
    # commands are correlated by the reply subject (their operation's `reply`), so their
    # messages declare no correlationId; events by the envelope's own correlation_id field
    for name, message in document["components"]["messages"].items():
        location = message.get("correlationId", {}).get("location", "")
        assert not location.startswith("$message.header"), name
        if name.endswith(":SubscribeMessage") or name in {"CommandReply", "ImportReply"}:
            assert "correlationId" not in message, name
    for spec in all_events():
        message = document["components"]["messages"][f"{spec.type}:Message"]
        assert message["correlationId"]["location"] == "$message.payload#/correlation_id"


def test_the_documented_command_api_is_the_table_each_service_dispatches_by(document) -> None:
    for kind in SERVICE_DEFINITIONS:
        definition = definition_for(kind)
        api = definition.api
        documented = {
            channel["address"].removeprefix("send.cmd.{org}.")
            for key, channel in document["channels"].items()
            if key.startswith(f"{kind.value}:")
        }
        assert documented == {r.name for r in api.routes if r.partner_facing}
        for route in api.routes:
            if route.desk is Desk.QUARANTINE:  # the operator's requests stay off the document
                assert route.name not in documented
                continue
            message = document["components"]["messages"][
                f"{kind.value}:{route.name}:SubscribeMessage"
            ]
            body = resolve(document, message["payload"]["$ref"])
            assert route.body is not None
            assert set(body["properties"]) == set(route.body.model_fields)
            if route.desk is Desk.COMMAND:
                # what the service parses a request on this subject (or an alias) as
                for name in (route.name, *route.aliases):
                    command = definition.catalogue.resolve(name)
                    assert set(body["properties"]) == {*command.model_fields, "record_id"}
                    assert api.desk(name) is Desk.COMMAND
        assert api.desk("ehc.no_such_command") is Desk.COMMAND  # answered: unknown command
