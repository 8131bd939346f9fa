"""GET /metrics: every metric of docs/api.md (Metrics) is listed, and each moves with the
traffic it counts, on the session's server."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import BACKEND
from tests.metrics.support import scrape, until, value
from tests.realtime.sockets import Connect
from tests.support import User, assert_error, create_conversation, post_message, send

FLAGGED = "you are a fucking idiot"  # one profane word: 0.55, flagged and delivered
HELD = "fuck this shit, fuck"  # three: 0.85, held

EVERY_METRIC = {
    "parley_http_request_duration_seconds_count",
    "parley_send_ack_seconds_count",
    "parley_send_commit_seconds_count",
    "parley_send_delivery_seconds_count",
    "parley_sends_total",
    "parley_pipeline_backlog",
    "parley_pipeline_oldest_pending_seconds",
    "parley_sockets_connected",
    "parley_cache_hits_total",
    "parley_cache_misses_total",
    "parley_db_pool_connections",
    "parley_redis_round_trips_total",
    "parley_rate_limit_refusals_total",
    "parley_moderation_flags_total",
    "parley_notifications_messages_total",
    "parley_notifications_items_total",
    "parley_notifications_deliveries_total",
    "parley_notifications_delivery_seconds_count",
    "parley_notifications_backlog",
    "parley_db_reads_total",
    "parley_db_replica_up",
    "parley_db_replica_lag_seconds",
}


async def test_metrics_lists_every_metric(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    names = {name for name, _ in (await scrape(client))}
    assert names >= EVERY_METRIC, EVERY_METRIC - names


async def test_sends_over_rest_and_socket_move_the_send_counters_and_histograms(
    client: httpx.AsyncClient, connect: Connect, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    before = await scrape(client)
    bob_socket = await connect(bob, frozenset({"user_status_changed", "message_confirmed"}))
    alice_socket = await connect(alice, frozenset({"user_status_changed", "message_confirmed"}))

    await send(client, alice, conversation["id"], "over REST", wait=False)
    await send(client, alice, conversation["id"], "over REST again", wait=False)
    ack = await alice_socket.call(
        "send_message", {"conversationId": conversation["id"], "content": "over the socket"}
    )
    assert ack["ok"] is True
    for _ in range(3):
        await bob_socket.next_of("new_message")

    def moved(samples: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> bool:
        def delta(name: str, **labels: str) -> float:
            return value(samples, name, **labels) - value(before, name, **labels)

        return (
            delta("parley_sends_total", outcome="accepted") >= 3
            and delta("parley_sends_total", outcome="committed") >= 3
            and delta("parley_send_ack_seconds_count", transport="rest") >= 2
            and delta("parley_send_ack_seconds_count", transport="socket") >= 1
            and delta("parley_send_commit_seconds_count") >= 3
            and delta("parley_send_delivery_seconds_count") >= 3
        )

    await until(client, moved)


async def test_http_latency_is_labelled_by_route_template_not_path(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    labels = {
        "route": "/conversations/{conversation_id}/participants",
        "method": "GET",
        "status": "2xx",
    }
    before = value(await scrape(client), "parley_http_request_duration_seconds_count", **labels)

    response = await client.get(
        f"/conversations/{conversation['id']}/participants", headers=alice.headers
    )
    assert response.status_code == 200
    missing = await client.get("/no/such/path/" + conversation["id"])
    assert missing.status_code == 404

    after = await scrape(client)
    assert value(after, "parley_http_request_duration_seconds_count", **labels) == before + 1
    assert value(
        after,
        "parley_http_request_duration_seconds_count",
        route="unmatched",
        method="GET",
        status="4xx",
    )
    # No raw path (with its ids) ever becomes a label.
    assert not [key for key in after if any(conversation["id"] in v for _, v in key[1])]


async def test_connected_sockets_gauge_follows_sockets(
    client: httpx.AsyncClient, connect: Connect, carol: User
) -> None:
    before = value(await scrape(client), "parley_sockets_connected")

    socket = await connect(carol)
    await until(client, lambda s: value(s, "parley_sockets_connected") == before + 1)
    await socket.close()

    await until(client, lambda s: value(s, "parley_sockets_connected") == before)


async def test_rate_limit_refusal_is_counted_by_limit(
    client: httpx.AsyncClient, dave: User, erin: User
) -> None:
    conversation = await create_conversation(client, dave, [erin], rateLimit=1)
    before = value(await scrape(client), "parley_rate_limit_refusals_total", limit="conversation")
    await send(client, dave, conversation["id"], "the one allowed", wait=False)

    assert_error(await post_message(client, dave, conversation["id"]), 429, "RATE_LIMITED")

    after = await scrape(client)
    assert value(after, "parley_rate_limit_refusals_total", limit="conversation") == before + 1


async def test_moderation_flags_are_counted_by_outcome(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    before = await scrape(client)

    await send(client, bob, conversation["id"], FLAGGED)
    await send(client, bob, conversation["id"], HELD)

    after = await scrape(client)
    for outcome in ("flagged", "held"):
        assert (
            value(after, "parley_moderation_flags_total", outcome=outcome)
            == value(before, "parley_moderation_flags_total", outcome=outcome) + 1
        )


async def test_cache_hits_and_misses_move_per_layer(
    client: httpx.AsyncClient, alice: User, carol: User
) -> None:
    """A sender's membership is read through the cache: the first send misses, the next hits."""
    conversation = await create_conversation(client, alice, [carol])
    backend = "redis" if BACKEND == "postgres" else "memory"
    layer = {"cache": "member", "backend": backend}
    before = await scrape(client)

    await send(client, carol, conversation["id"], "first", wait=False)
    await send(client, carol, conversation["id"], "second", wait=False)

    after = await scrape(client)
    assert value(after, "parley_cache_misses_total", **layer) >= (
        value(before, "parley_cache_misses_total", **layer) + 1
    )
    assert value(after, "parley_cache_hits_total", **layer) >= (
        value(before, "parley_cache_hits_total", **layer) + 1
    )


async def test_database_pool_and_pipeline_gauges(client: httpx.AsyncClient) -> None:
    samples = await scrape(client)

    assert value(samples, "parley_db_pool_connections", state="size") >= 1
    assert value(samples, "parley_db_pool_connections", state="checked_out") >= 0
    assert value(samples, "parley_pipeline_backlog") >= 0
    assert value(samples, "parley_pipeline_oldest_pending_seconds") >= 0


@pytest.mark.skipif(BACKEND != "postgres", reason="the embedded default has no Redis")
async def test_redis_round_trips_are_counted(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    before = await scrape(client)

    await send(client, alice, conversation["id"], "through Redis", wait=False)

    await until(
        client,
        lambda s: (
            value(s, "parley_redis_round_trips_total", client="app")
            > value(before, "parley_redis_round_trips_total", client="app")
            # new_message and message_confirmed are published for the other instances.
            and value(s, "parley_redis_round_trips_total", client="socketio")
            > value(before, "parley_redis_round_trips_total", client="socketio")
        ),
    )
