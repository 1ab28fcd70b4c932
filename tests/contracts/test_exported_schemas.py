"""The JSON Schemas that `sendx schemas export` publishes validate real messages.

A partner validating with the exported files alone (no Python, no registry of ours) must accept
every message the services publish and refuse a broken one. So the demo partnership is loaded
through each organisation's NATS import API and EVERY message on SEND_EVENTS is validated with
`jsonschema` against `envelope.json` and against its own `<type>.v<N>.json`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from contracts.registry import all_events
from runtime.partnership import DEMO_PARTNERSHIP
from sendx.cli import main
from services.endpoint.client import ServiceClient
from tests.contracts.wire_examples import V1_REFERRAL
from tests.test_no_identifiers_on_the_wire import (  # the demo-load fixture and its helpers
    extract,
    partnership,  # noqa: F401 - a fixture, used by name
    read_everything,
)

jsonschema = pytest.importorskip("jsonschema")
Draft202012Validator = jsonschema.Draft202012Validator


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """`sendx schemas export DIR`, read back: file stem -> schema."""
    out = tmp_path_factory.mktemp("schemas")
    assert main(["schemas", "export", str(out)]) == 0
    return {p.stem: orjson.loads(p.read_bytes()) for p in out.glob("*.json")}


def validator(schema: dict[str, Any]) -> Any:
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_every_exported_schema_names_its_dialect_and_a_unique_id(exported) -> None:
    ids = {name: schema["$id"] for name, schema in exported.items()}
    assert {s["$schema"] for s in exported.values()} == {
        "https://json-schema.org/draft/2020-12/schema"
    }
    assert len(set(ids.values())) == len(ids)
    assert ids["envelope"] == "urn:send-exchange:schema:v1:envelope"
    assert ids["ehc.plan_issued.v1"] == "urn:send-exchange:schema:v1:ehc.plan_issued.v1"


def test_the_envelope_has_one_alternative_per_registered_type_and_version(exported) -> None:
    envelope = exported["envelope"]
    pairs = set()
    for alternative in envelope["oneOf"]:
        branch = envelope["$defs"][alternative["$ref"].removeprefix("#/$defs/")]
        props = branch["properties"]
        pairs.add((props["type"]["const"], props["schema_version"]["const"]))
        assert {"payload", "type", "schema_version"} <= set(branch["required"])
        assert branch["additionalProperties"] is False
    assert pairs == {(s.type, s.version) for s in all_events()}


@pytest.mark.slow
async def test_every_message_of_a_demo_load_validates_and_a_broken_one_is_rejected(
    partnership: None,  # noqa: F811
    nc: Client,
    js: JetStreamContext,
    exported: dict[str, dict[str, Any]],
) -> None:
    # given the demo slice imported into every organisation through its NATS import API
    published = 0
    for org in DEMO_PARTNERSHIP:
        report = await ServiceClient(nc, org.code, timeout=60).import_rows(
            enumerate(extract(org.code), 1)
        )
        assert report.rejected == 0, [r for r in report.rows if not r["accepted"]][:3]
        published += len(report.event_ids)
    messages = await read_everything(js, published)
    envelope = validator(exported["envelope"])
    payloads = {name: validator(schema) for name, schema in exported.items()}
    # when every message is validated, as a partner would, against the exported files alone
    failures = []
    seen = set()
    for msg in messages:
        event = orjson.loads(msg.data)
        name = f"{event['type']}.v{event['schema_version']}"
        seen.add(name)
        errors = [e.message for e in envelope.iter_errors(event)]
        errors += [e.message for e in payloads[name].iter_errors(event["payload"])]
        if errors:
            failures.append((msg.subject, errors[:2]))
    # then every one is valid, across every type the demo publishes
    assert not failures, failures[:3]
    assert len(seen) >= 20, sorted(seen)
    # and a broken message is rejected: a field riding along in the payload, a payload of the
    # wrong version, no payload at all, an unknown type, a person key that is an NHS number
    good = orjson.loads(messages[0].data)
    broken = {
        "extra payload field": {**good, "payload": {**good["payload"], "nhs_number": "9434765919"}},
        "no payload": {k: v for k, v in good.items() if k != "payload"},
        "unknown type": {**good, "type": "ehc.plan_invented"},
        "version not registered": {**good, "schema_version": 99},
        "identifier as person key": {**good, "person_key": "9434765919"},
        "unknown header field": {**good, "given_name": "Amelia"},
    }
    accepted = [why for why, event in broken.items() if envelope.is_valid(event)]
    assert not accepted, accepted
    payload_only = payloads[f"{good['type']}.v{good['schema_version']}"]
    assert not payload_only.is_valid(broken["extra payload field"]["payload"])


def test_the_envelope_rejects_a_payload_of_another_type(exported) -> None:
    # given a valid v1 referral, and the same envelope claiming to be a plan issued
    event = dict(V1_REFERRAL)
    envelope = validator(exported["envelope"])
    envelope.validate(event)
    errors = list(envelope.iter_errors({**event, "type": "ehc.plan_issued"}))
    assert errors and errors[0].validator == "oneOf"


def test_base_uri_sets_the_ids_for_where_a_partnership_publishes_them(tmp_path: Path) -> None:
    assert main(["schemas", "export", str(tmp_path), "--base-uri", "https://example.org/s/"]) == 0
    envelope = orjson.loads((tmp_path / "envelope.json").read_bytes())
    assert envelope["$id"] == "https://example.org/s/envelope"
