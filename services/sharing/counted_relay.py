"""The relay of a service process, counting the events JetStream acknowledged.

Metrics stay out of `relay.py`, and the relay out of the shared runtime's metrics module.
"""

from __future__ import annotations

from typing import Any

from runtime.metrics import ServiceMetrics
from services.sharing.relay import Relay


class CountedRelay(Relay):
    """The relay, counting the events JetStream acknowledged (relay.py stays free of metrics)."""

    def __init__(self, metrics: ServiceMetrics, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._published = metrics.published.labels(metrics.org)

    def on_acknowledged(self, published: int) -> None:
        self._published.inc(published)
