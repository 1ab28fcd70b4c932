"""The projector's durable names, written in runtime for its permissions, match the read models."""

from __future__ import annotations

from projections.catalogue import CATALOGUE
from projections.reading.partitions import Partition
from projections.reading.projection import durable_name
from runtime.bus.durables import READ_MODELS
from runtime.bus.permissions import PARTITION_COUNTS, own_durables
from runtime.bus.streams import EVENTS_STREAM, partitioned_stream_name


def test_every_read_model_in_the_catalogue_is_named_for_the_permissions() -> None:
    assert tuple(p.name for p in CATALOGUE) == READ_MODELS


def test_the_projector_may_delete_exactly_the_durables_its_workers_create() -> None:
    own = dict(own_durables())
    assert set(own[EVENTS_STREAM]) == {durable_name(p.name) for p in CATALOGUE}
    for count in PARTITION_COUNTS:
        created = {Partition(i, count).durable(p.name) for i in range(count) for p in CATALOGUE}
        assert set(own[partitioned_stream_name(count)]) == created
