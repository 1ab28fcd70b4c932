"""docs/partners.md cannot drift from the code: its command reference is the generated one, its
person key test vector is what `services.domain.identity` computes, its example requests are parsed
by the services' own catalogues (the refused row refused with the error the guide shows), its
example replies are valid replies, every subject it names exists, and the users it says may read
events are the ones the generated permissions let read them."""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path

import orjson
import pytest
from pydantic import BaseModel

from contracts.feeds import ALERTS_STREAM, FEED_KEYS_STREAM, FEEDS_STREAM, recipient_feed_keys
from contracts.topology import OrgKind
from runtime.bus.permissions import NatsUser, partnership_users
from runtime.bus.streams import EVENTS_STREAM
from sendx.cli import main
from sendx.command_reference import END, reference, section_of
from sendx.commands.schemas import service_commands
from services.domain.identity import person_key, validate_nhs_number
from services.endpoint.command_api import CommandReply, ImportReply, ImportRequest
from services.endpoint.ingest import RowRejected
from services.endpoint.process import definition_for

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "partners.md"
TEXT = GUIDE.read_text(encoding="utf-8")
REPLIES: dict[str, type[BaseModel]] = {"CommandReply": CommandReply, "ImportReply": ImportReply}


def marked_json(marker: str) -> list[tuple[str, object]]:
    """(`<!-- marker: ARG -->` argument, the JSON block right after it), in order."""
    pattern = re.compile(rf"<!-- {marker}: ([^>]+?) -->\n```json\n(.*?)\n```", re.S)
    return [(arg, orjson.loads(body)) for arg, body in pattern.findall(TEXT)]


def table_after(marker: str) -> list[list[str]]:
    """The rows (cells, backticks removed) of the table following `<!-- marker -->`."""
    block = TEXT.split(f"<!-- {marker} -->\n", 1)[1].split("\n\n", 1)[0]
    rows = [line.strip("|").split("|") for line in block.splitlines()[2:]]
    return [[cell.strip().strip("`") for cell in row] for row in rows]


def test_the_command_reference_is_the_generated_one() -> None:
    assert section_of(TEXT) == reference(service_commands()), (
        "docs/partners.md is stale: run `sendx schemas guide docs/partners.md`"
    )


def test_sendx_schemas_guide_rewrites_a_stale_reference(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "partners.md"
    stale.write_text(TEXT.replace("`person.register` (la)", "`person.enrol` (la)"))
    assert main(["schemas", "guide", str(stale)]) == 0
    assert stale.read_text() == TEXT
    (tmp_path / "none.md").write_text("# no markers\n")
    assert main(["schemas", "guide", str(tmp_path / "none.md")]) != 0
    assert "the guide has no generated section" in capsys.readouterr().err


def test_the_person_key_vector_is_what_the_code_computes() -> None:
    vector = {row[0]: row[1] for row in table_after("person key vector")}
    key = vector["partnership key"].encode("utf-8")
    message = vector["message (ASCII)"]
    # the documented steps, done independently of services.domain.identity
    assert message == re.sub(r"[ -]", "", vector["NHS number"])
    assert validate_nhs_number(vector["NHS number"]) == message
    mac = hmac.new(key, message.encode("ascii"), hashlib.sha256).hexdigest()
    assert mac == vector["HMAC-SHA256, hex"]
    assert vector["person key"] == f"p_{mac[:32]}"
    # and the code agrees, whatever the spacing of the NHS number
    for spelling in (vector["NHS number"], message, "999-000-0018"):
        assert person_key(spelling, key) == vector["person key"]
    # the demo key of the vector is the one an embedded run uses
    from runtime.settings import DEMO_PARTNERSHIP_KEY

    assert vector["partnership key"] == DEMO_PARTNERSHIP_KEY


def test_every_example_request_is_parsed_as_the_guide_says() -> None:
    examples = marked_json("request")
    assert len(examples) >= 3
    imports = 0
    for arg, body in examples:
        kind, command = arg.split()
        catalogue = definition_for(OrgKind(kind)).catalogue
        assert isinstance(body, dict)
        if command != "import":
            fields = {k: v for k, v in body.items() if k != "record_id"}
            assert catalogue.parse(command, fields)
            continue
        # an import: the rows are parsed as the service does, and each outcome is the one of
        # the example reply that follows it in the guide
        imports += 1
        request = ImportRequest.model_validate(body)
        (reply,) = [r for name, r in marked_json("reply") if name == "ImportReply"]
        reports = {r["row"]: r for r in reply["rows"]}
        for number, row in zip(request.row_numbers or [], request.rows, strict=True):
            try:
                catalogue.parse_row(row, f"row {number}, ")
                assert reports[number]["accepted"], number
            except RowRejected as exc:
                assert reports[number]["error"] == str(exc)
    assert imports == 1


def test_every_example_reply_is_a_valid_reply() -> None:
    examples = marked_json("reply")
    assert {name for name, _ in examples} == set(REPLIES)
    for name, body in examples:
        REPLIES[name].model_validate(body)


def test_every_subject_the_guide_names_exists() -> None:
    known = {name for c in definition_for(OrgKind.LA).catalogue.commands
             for name in (c.name, *c.aliases)} | {"import"}
    named = set(re.findall(r"send\.cmd\.856\.([a-z_.]+[a-z])", TEXT))
    assert named and named <= known, named - known
    assert END in TEXT


def matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: `*` one token, `>` the rest."""
    p, s = pattern.split("."), subject.split(".")
    for i, token in enumerate(p):
        if token == ">":
            return len(s) > i
        if i >= len(s) or token not in ("*", s[i]):
            return False
    return len(p) == len(s)


def may(user: NatsUser, subject: str) -> bool:
    return any(matches(p, subject) for p in user.publish) and not any(
        matches(p, subject) for p in user.deny_publish
    )


def test_the_users_said_to_read_events_are_those_the_permissions_let_read_them() -> None:
    listed = {row[0] for row in table_after("event readers")}
    users = {u.name: u for u in partnership_users()}
    read = f"$JS.API.STREAM.MSG.GET.{EVENTS_STREAM}"
    consume = f"$JS.API.CONSUMER.CREATE.{EVENTS_STREAM}"
    readers = {name for name, u in users.items() if may(u, read) or may(u, consume)}
    # every listed user can read the stream; every other reader is the operator's admin
    assert listed <= readers, listed - readers
    assert readers - listed <= {"admin"}, readers - listed
    # and no partner client can read SEND_EVENTS or subscribe to anything but its own inbox:
    # its JetStream API is its own feed's and alerts' consumers and its own feed keys (the
    # guide's feed paragraph)
    for name, user in users.items():
        if name.endswith("-client"):
            org = name.split("-")[1]
            own_keys = f"$JS.API.DIRECT.GET.{FEED_KEYS_STREAM}.{recipient_feed_keys(org)}"
            jetstream = [p for p in user.publish if p.startswith("$JS.")]
            assert all(p in ("$JS.API.INFO", own_keys) or f".{FEEDS_STREAM}.{org}-" in p
                       or f".{ALERTS_STREAM}.{org}-" in p for p in jetstream), name
            assert not any(EVENTS_STREAM in p for p in jetstream), name
            assert user.subscribe == (), name
            assert user.inbox == f"_INBOX.{name}.>"


def test_the_readme_points_partners_to_the_guide() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    using = readme.split("## Using it", 1)[1].split("\n## ", 1)[0]
    partner_row = next(line for line in using.splitlines() if line.startswith("| partner"))
    assert "[docs/partners.md](docs/partners.md)" in partner_row
