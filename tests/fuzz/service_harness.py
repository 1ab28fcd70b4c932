"""A running organisation service for hypothesis to hammer, and strategies for what partners send.

Hypothesis drives plain (synchronous) test functions, so the service and a NATS client live on
an event loop in a background thread for the whole test; each example is one request-reply.
The strategies read each command's pydantic fields, so a new service kind is fuzzed with
plausible values (dates, codes from the Literal lists) as well as garbage, without new code.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
import types
import typing
from collections.abc import Coroutine
from datetime import date
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

import nats
import orjson
from hypothesis import HealthCheck, assume, settings
from hypothesis import strategies as st

from contracts.topology import Organisation, OrgKind
from runtime.partnership import DEMO_PARTNERSHIP
from runtime.settings import Settings
from runtime.stopping import awaiting
from services.domain.command import Command
from services.endpoint.process import SERVICE_DEFINITIONS, OrganisationService, definition_for

T = TypeVar("T")
KINDS = sorted(SERVICE_DEFINITIONS, key=lambda k: k.value)
INTERNAL_ERROR = "internal error"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner,
                                                               max_size=3),
    max_leaves=8,
)
huge_text = st.integers(10_000, 200_000).map(lambda n: "é" * n)
nasty_text = st.sampled_from(
    ["", " ", "\x00", "0" * 10, "9434765919", "943 476 5919", "2025-02-30", "9999-12-31",
     "0001-01-01", "null", "../../etc/passwd", "'; DROP TABLE events; --", "\u202e\ufeff"]
)
any_date = st.dates(date(1, 1, 1), date(9999, 12, 31)).map(date.isoformat)
near_date = st.dates(date(2000, 1, 1), date(2040, 12, 31)).map(date.isoformat)


def organisation_of(kind: OrgKind) -> Organisation:
    return next(org for org in DEMO_PARTNERSHIP if org.kind is kind)


def plausible(annotation: Any) -> st.SearchStrategy[Any]:
    """Values of roughly the right shape for a pydantic field annotation."""
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return plausible(get_args(annotation)[0])
    if origin is Literal:
        return st.sampled_from(get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return st.one_of([plausible(arg) for arg in get_args(annotation)])
    if origin is list:
        (inner,) = get_args(annotation) or (Any,)
        return st.lists(plausible(inner), max_size=3)
    if annotation is type(None):
        return st.none()
    if annotation is date:
        return near_date | any_date
    if annotation is bool:
        return st.booleans() | st.sampled_from(["yes", "no", "1", "0", "maybe"])
    if annotation is int:
        return st.integers(-5, 5) | st.integers()
    if annotation is str:
        return nasty_text | st.from_regex(r"[A-Z0-9]{3,6}(-[A-Z]-[0-9]{1,3})?", fullmatch=True)
    return json_values


def field_value(annotation: Any) -> st.SearchStrategy[Any]:
    return st.one_of(plausible(annotation), plausible(annotation), json_values, nasty_text,
                     huge_text)


@st.composite
def command_bodies(draw: st.DrawFn, command: type[Command]) -> dict[str, Any]:
    """Some of the command's fields (plausible or garbage), perhaps an unknown one."""
    fields = command.model_fields
    chosen = draw(st.sets(st.sampled_from(sorted(fields)), max_size=len(fields)))
    body = {name: draw(field_value(fields[name].annotation)) for name in sorted(chosen)}
    if draw(st.booleans()):
        body.update(draw(st.dictionaries(st.text(max_size=12), json_values, max_size=2)))
    if draw(st.booleans()):
        body["record_id"] = draw(st.text(max_size=20) | json_values)
    return body


def command_names(commands: list[type[Command]]) -> st.SearchStrategy[str]:
    names = sorted({n for c in commands for n in (c.name, *c.aliases)})
    return st.sampled_from(names) | st.from_regex(r"[a-z_]{1,12}(\.[a-z_]{1,12})?", fullmatch=True)


class BackgroundLoop:
    """An event loop in a thread, so synchronous hypothesis tests can drive async code."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """The coroutine's result; if it overruns, the error says where every task was stuck."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(
                f"{coro.__qualname__} took over {timeout}s; tasks still running:\n"
                + "\n".join(self.tasks())
            ) from None

    def tasks(self) -> list[str]:
        """Each unfinished task on the loop and where it is suspended."""
        for _ in range(3):  # the loop may add a task while we look
            try:
                pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
                return [f"{t.get_name()}: {awaiting(t)}" for t in pending]
            except RuntimeError:
                continue
        return ["(the loop kept changing its tasks)"]

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        if not self.thread.is_alive():
            self.loop.close()


class LiveService(BackgroundLoop):
    """`OrganisationService` on a real nats-server, driven from synchronous test code."""

    def __init__(self, kind: OrgKind, nats_url: str, data_dir: Path) -> None:
        super().__init__()
        self.kind, self.org = kind, organisation_of(kind)
        self.definition = definition_for(kind)
        self.nats_url, self.data_dir = nats_url, data_dir

    def start(self) -> LiveService:
        """Started; on failure, whatever did start is stopped before the error is raised."""
        settings = Settings(data_dir=self.data_dir, store="sqlite",
                            partnership_key=b"fuzz-partnership", cipher_key=None)

        async def start() -> None:
            self.service = OrganisationService(
                self.definition, self.org, settings=settings, nats_url=self.nats_url,
                poll_interval=0.2,
            )
            await self.service.start()
            self.nc = await nats.connect(self.nats_url)

        try:
            self.run(start())
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Client and service stopped (each step of the service's stop is bounded), loop closed."""
        service: OrganisationService | None = getattr(self, "service", None)
        nc: nats.NATS | None = getattr(self, "nc", None)

        async def stop() -> None:
            if nc is not None:
                await asyncio.wait_for(nc.close(), 10)
            if service is not None:
                await service.stop()

        try:
            self.run(stop())
        finally:
            self.close()

    def request(self, name: str, data: bytes) -> dict[str, Any]:
        # a request over the server's max payload never reaches the service (the client refuses
        # it: see ServiceClient's batching); the property is about what the service answers
        if len(data) > self.nc.max_payload - 1024:
            assume(False)

        async def ask() -> bytes:
            msg = await self.nc.request(f"send.cmd.{self.org.code}.{name}", data, timeout=30)
            return msg.data

        answer = orjson.loads(self.run(ask()))
        assert isinstance(answer, dict), answer
        return answer

    def command(self, name: str, body: Any) -> dict[str, Any]:
        return self.request(name, orjson.dumps(body))


def assert_clear_refusal_or_success(answer: dict[str, Any]) -> None:
    """`{"ok": true, ...}` or `{"ok": false, "error": <a message that is not a crash>}`."""
    assert answer.get("ok") in (True, False), answer
    if answer["ok"] is False:
        error = answer.get("error")
        assert isinstance(error, str) and error.strip(), answer
        assert INTERNAL_ERROR not in error, error


def examples(default: int) -> int:
    """Modest in the suite; `SENDX_FUZZ_EXAMPLES=2000 pytest tests/fuzz` for a long local run."""
    return int(os.environ.get("SENDX_FUZZ_EXAMPLES", default))


def against_a_live_service(default_examples: int) -> settings:
    """Hypothesis settings for properties run against one live service (shared fixture)."""
    return settings(
        max_examples=examples(default_examples),
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                               HealthCheck.data_too_large],
    )
