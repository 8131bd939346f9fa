"""Exactly once with several instances and across a restart (docs/api.md, Scheduled
messages: the claim, the lease and the send's clientMessageId)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import BACKEND, own_storage, start_server
from tests.realtime.sockets import Recorder, open_socket
from tests.scheduled.helpers import at, next_named, parse, schedule, wait_for_status
from tests.support import (
    Server,
    User,
    create_conversation,
    message_page,
    read_all,
    register,
    send,
)


@pytest.fixture(scope="module")
def second_server(backend_env: dict[str, str]) -> Iterator[Server]:
    running = start_server(backend_env)
    yield running
    running.stop()


@pytest.mark.skipif(BACKEND != "postgres", reason="several instances need PostgreSQL and Redis")
async def test_messages_due_together_are_sent_once_with_two_instances(
    server: Server,
    second_server: Server,
    client: httpx.AsyncClient,
    sockets: list[Recorder],
    alice: User,
    bob: User,
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    receiver = await open_socket(sockets, second_server, bob)
    count = 20
    when = at(2.5)
    async with httpx.AsyncClient(base_url=second_server.url, timeout=30) as other:
        items = [
            await schedule(other if n % 2 else client, alice, conversation["id"], f"m{n}", when)
            for n in range(count)
        ]

    received = [(await next_named(receiver, "new_message"))["message"] for _ in items]

    assert sorted(m["content"] for m in received) == sorted(f"m{n}" for n in range(count))
    assert sorted(m["seq"] for m in received) == list(range(1, count + 1))
    marker = await send(client, alice, conversation["id"], "marker")
    assert (await next_named(receiver, "new_message"))["message"]["id"] == marker["id"]
    page = await message_page(client, bob, conversation["id"], limit=100)
    assert len(page["items"]) == count + 1
    for item in items:
        await wait_for_status(client, alice, item["id"], "SENT")


@pytest.fixture
def own_env(backend_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """An environment with a database of its own: the session's server must not send it."""
    with own_storage(backend_env, "sched") as env:
        yield env


def test_scheduled_message_survives_a_restart_and_is_sent_once(
    own_env: dict[str, str],
) -> None:
    asyncio.run(_survives_a_restart(own_env))


async def _survives_a_restart(env: dict[str, str]) -> None:
    first = start_server(env)
    try:
        async with httpx.AsyncClient(base_url=first.url, timeout=30) as http:
            alice = await register(http, "alice")
            bob = await register(http, "bob")
            conversation = await create_conversation(http, alice, [bob])
            item = await schedule(http, alice, conversation["id"], "after the restart", at(4))
    finally:
        first.stop()  # before it is due

    second = start_server(env)
    try:
        async with httpx.AsyncClient(base_url=second.url, timeout=30) as http:
            done = await wait_for_status(http, alice, item["id"], "SENT", within=20)
            page = await message_page(http, bob, conversation["id"])
            assert [m["id"] for m in page["items"]] == [done["sentMessageId"]]
            assert page["items"][0]["content"] == "after the restart"
            assert page["items"][0]["seq"] == 1
    finally:
        second.stop()


def _start_two(env: dict[str, str], *, together: bool) -> tuple[Server, Server]:
    """Two instances on the same storage. `together`: started side by side (an already
    migrated database; on a fresh one the first must create the schema alone)."""
    if not together:
        first = start_server(env)
        try:
            return first, start_server(env)
        except BaseException:
            first.stop()
            raise
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(start_server, env) for _ in range(2)]
    started = [future.result() for future in futures if future.exception() is None]
    if len(started) < 2:
        for instance in started:
            instance.stop()
        raise RuntimeError("an instance did not start") from next(
            future.exception() for future in futures if future.exception() is not None
        )
    return started[0], started[1]


def test_scheduled_messages_survive_a_restart_of_both_instances_and_are_sent_once(
    own_env: dict[str, str],
) -> None:
    asyncio.run(_restart_of_both(own_env))


async def _restart_of_both(env: dict[str, str]) -> None:
    begun = time.monotonic()
    old = await asyncio.to_thread(_start_two, env, together=False)
    # The later messages must fall due after the new pair is up: allow for a slow, shared
    # machine (the other backend's suite runs beside this one) by three times how long this
    # pair took to start (1.5 times was too little once, when the load rose meanwhile).
    took = time.monotonic() - begun
    soon, lead = 3 + took / 4, 8 + took * 3
    try:
        async with (
            httpx.AsyncClient(base_url=old[0].url, timeout=30) as one,
            httpx.AsyncClient(base_url=old[1].url, timeout=30) as two,
        ):
            alice = await register(one, "alice")
            bob = await register(one, "bob")
            conversation = await create_conversation(one, alice, [bob])
            # Overdue at the restart: due while no instance runs.
            overdue = [
                await schedule(http, alice, conversation["id"], f"overdue {n}", at(soon))
                for n, http in enumerate((one, two))
            ]
            # Due after the new instances are up (checked below).
            later = [
                await schedule(
                    (one, two)[n % 2],
                    alice,
                    conversation["id"],
                    f"later {n}",
                    at(soon + lead + n / 2),
                )
                for n in range(6)
            ]
    finally:
        for instance in old:  # SIGTERM, before anything is due
            instance.stop()
    assert all(parse(item["scheduledAt"]) > datetime.now(UTC) for item in overdue + later)

    # Start the new pair only once the first messages are past due.
    due = max(parse(item["scheduledAt"]) for item in overdue)
    await asyncio.sleep(max((due - datetime.now(UTC)).total_seconds(), 0) + 0.1)
    new = await asyncio.to_thread(_start_two, env, together=True)
    restarted = datetime.now(UTC)
    opened: list[Recorder] = []
    try:
        # A socket of bob's on each instance: with Redis each sees every message; on SQLite
        # (no Redis) each sees the sends of its own instance, so the two together see all.
        receivers = [await open_socket(opened, instance, bob) for instance in new]
        assert all(parse(item["scheduledAt"]) > datetime.now(UTC) for item in later), (
            "the new instances took too long to start for the timing check"
        )
        async with (
            httpx.AsyncClient(base_url=new[0].url, timeout=30) as http,
            httpx.AsyncClient(base_url=new[1].url, timeout=30) as other,
        ):
            last_due = max(parse(item["scheduledAt"]) for item in later)
            within = (last_due - datetime.now(UTC)).total_seconds() + 10
            sent = [
                await wait_for_status(http, alice, item["id"], "SENT", within=within)
                for item in overdue + later
            ]
            # A marker through each instance reaches that instance's socket after the rest.
            markers = [await send(h, alice, conversation["id"], "marker") for h in (http, other)]
            events = [
                await _new_messages_until(receiver, marker["id"])
                for receiver, marker in zip(receivers, markers, strict=True)
            ]
            history = await read_all(http, bob, conversation["id"])
    finally:
        for recorder in opened:
            await recorder.close()
        for instance in new:
            instance.stop()

    expected = sorted(item["content"] for item in overdue + later)
    assert sorted(m["content"] for m in history[: len(expected)]) == expected
    assert [m["id"] for m in history[len(expected) :]] == [m["id"] for m in markers]
    assert [m["seq"] for m in history] == list(range(1, len(expected) + 3))
    assert {m["id"] for m in history[: len(expected)]} == {s["sentMessageId"] for s in sent}
    by_id = {m["id"]: m for m in history}
    for item, done in zip(overdue, sent[: len(overdue)], strict=True):
        # Overdue: sent as soon as a new instance ran (it was healthy at `restarted`).
        at_server = parse(by_id[done["sentMessageId"]]["serverTimestamp"])
        assert at_server - restarted < timedelta(seconds=1), (item["content"], at_server)
    for item, done in zip(later, sent[len(overdue) :], strict=True):
        lag = parse(by_id[done["sentMessageId"]]["serverTimestamp"]) - parse(item["scheduledAt"])
        assert timedelta(0) <= lag < timedelta(seconds=1), (item["content"], lag)
    # Live delivery, once: every later message reached bob's sockets exactly once in all
    # (PostgreSQL + Redis: once on each socket).
    later_ids = {done["sentMessageId"] for done in sent[len(overdue) :]}
    if BACKEND == "postgres":
        for seen in events:
            assert sorted(i for i in seen if i in later_ids) == sorted(later_ids)
    else:
        together = [i for seen in events for i in seen]
        assert sorted(i for i in together if i in later_ids) == sorted(later_ids)


async def _new_messages_until(receiver: Recorder, last_id: str) -> list[str]:
    """Ids of the `new_message` events up to and including `last_id`."""
    seen: list[str] = []
    while not seen or seen[-1] != last_id:
        seen.append((await next_named(receiver, "new_message", within=20))["message"]["id"])
    return seen
