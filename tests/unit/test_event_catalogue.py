"""The event catalogue: every server -> client event has exactly one entry (name -> payload
model), and the SDK listens under the same name the server sends."""

from __future__ import annotations

from collections import Counter

from pydantic import BaseModel

from parley import client
from parley.core.events import EventName
from parley.realtime.catalogue import CATALOGUE, ENTRIES


def test_every_event_name_has_exactly_one_entry() -> None:
    counts = Counter(entry.name for entry in ENTRIES)

    assert set(counts) == set(EventName)
    assert [name for name, count in counts.items() if count > 1] == []


def test_every_entry_names_a_payload_model_and_says_what_it_is() -> None:
    for name, entry in CATALOGUE.items():
        assert issubclass(entry.payload, BaseModel), name
        assert entry.description, name


def test_the_sdk_listens_for_the_servers_confirmation() -> None:
    assert client.MESSAGE_CONFIRMED == EventName.MESSAGE_CONFIRMED
