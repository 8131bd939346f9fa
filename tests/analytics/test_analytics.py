"""GET /conversations/{id}/analytics and `parley analytics`: figures match counts made here,
who may read them, and the 422s."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import PARLEY, ROOT
from tests.support import (
    User,
    assert_error,
    create_conversation,
    delete_message,
    execute_sql,
    mark_read,
    send,
    set_role,
)

THUMBS_UP = "\N{THUMBS UP SIGN}"
HEART = "\N{HEAVY BLACK HEART}\N{VARIATION SELECTOR-16}"


async def analytics(
    client: httpx.AsyncClient, user: User, conversation_id: str, **params: str
) -> httpx.Response:
    return await client.get(
        f"/conversations/{conversation_id}/analytics", params=params, headers=user.headers
    )


async def figures(
    client: httpx.AsyncClient, user: User, conversation_id: str, **params: str
) -> dict[str, Any]:
    response = await analytics(client, user, conversation_id, **params)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def react(client: httpx.AsyncClient, user: User, message_id: str, emoji: str) -> None:
    response = await client.post(
        f"/messages/{message_id}/reactions", json={"emoji": emoji}, headers=user.headers
    )
    assert response.status_code in (200, 201), response.text


def today() -> str:
    return datetime.now(UTC).date().isoformat()


async def test_counts_of_today_match_the_messages_sent(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    other = await create_conversation(client, alice, [bob])
    cid = conversation["id"]
    for text in ("one", "two", "three"):
        await send(client, alice, cid, text)
    await send(client, bob, cid, "four")
    await send(client, alice, other["id"], "elsewhere")
    result = await figures(client, alice, cid)
    assert result["conversationId"] == cid
    assert result["to"] == today()
    assert date.fromisoformat(result["from"]) == date.fromisoformat(today()) - timedelta(days=29)
    assert result["days"] == [{"date": today(), "messages": 4, "activeMembers": 2}]
    assert result["totals"] == {"messages": 4, "activeMembers": 2}


async def test_deleted_messages_still_count(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    first = await send(client, alice, conversation["id"], "gone soon")
    await send(client, alice, conversation["id"], "stays")
    assert (await delete_message(client, alice, first["id"])).status_code in (200, 204)
    result = await figures(client, alice, conversation["id"])
    assert result["totals"] == {"messages": 2, "activeMembers": 1}


async def test_top_reactions_and_hashtags(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    cid = conversation["id"]
    first = await send(client, alice, cid, "#alpha and #beta")
    second = await send(client, bob, cid, "more #alpha")
    await react(client, bob, first["id"], THUMBS_UP)
    await react(client, carol, first["id"], THUMBS_UP)
    await react(client, carol, second["id"], HEART)
    result = await figures(client, alice, cid)
    assert result["topReactions"] == [
        {"emoji": THUMBS_UP, "count": 2},
        {"emoji": HEART, "count": 1},
    ]
    assert result["topHashtags"] == [{"tag": "alpha", "count": 2}, {"tag": "beta", "count": 1}]


async def edit(client: httpx.AsyncClient, user: User, message_id: str, content: str) -> None:
    response = await client.put(
        f"/messages/{message_id}", json={"content": content}, headers=user.headers
    )
    assert response.status_code == 200, response.text


def tag_counts(texts: list[str]) -> list[dict[str, Any]]:
    """Top hashtags counted here: each message's distinct lower-case tags, most used first,
    ties by tag, at most ten."""
    counts: dict[str, int] = {}
    for text in texts:
        for tag in {word[1:].lower() for word in text.split() if word.startswith("#")}:
            counts[tag] = counts.get(tag, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [{"tag": tag, "count": count} for tag, count in ranked[:10]]


async def test_top_hashtags_follow_sends_and_edits(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol], rateLimit=10_000)
    cid = conversation["id"]
    other = await create_conversation(client, alice, [bob])
    await send(client, alice, other["id"], "#launch elsewhere, not counted here")
    texts = {
        "a": "#launch #Beta today",
        "b": "#launch again, #launch twice in one message counts once",
        "c": "#beta #gamma #delta",
        "d": "no tags",
        "e": "#gamma",
    }
    sent = {}
    for key, text in texts.items():
        sent[key] = await send(client, bob if key in "bd" else alice, cid, text)
    # Twelve tags, more than the ten shown: ties by tag decide who is left out.
    many = " ".join(f"#t{i:02d}" for i in range(12))
    for user in (alice, carol):
        texts[f"many-{user.username}"] = many
        await send(client, user, cid, many)
    # Several sends in one committer batch (wait=false), with tags.
    for index in range(5):
        texts[f"batch{index}"] = f"#burst{index % 2} #launch"
        await send(client, carol, cid, texts[f"batch{index}"], wait=False)
    texts["last"] = "#launch last"
    await send(client, carol, cid, texts["last"])
    assert (await figures(client, alice, cid))["topHashtags"] == tag_counts(list(texts.values()))

    # Edits: a tag dropped, one added, one kept; a message losing all its tags; one gaining.
    changes = {
        "a": "#beta #epsilon today",
        "c": "nothing left",
        "d": "now #delta and #Gamma",
        "e": "#gamma still",
    }
    for key, text in changes.items():
        await edit(client, bob if key in "bd" else alice, sent[key]["id"], text)
        texts[key] = text
    # Edited twice: the counters follow the latest text only.
    await edit(client, alice, sent["a"]["id"], "#zeta only")
    texts["a"] = "#zeta only"
    result = await figures(client, alice, cid)
    assert result["topHashtags"] == tag_counts(list(texts.values()))
    assert {"tag": "epsilon", "count": 1} not in result["topHashtags"]
    wide = await figures(
        client,
        alice,
        cid,
        **{"from": (date.fromisoformat(today()) - timedelta(days=365)).isoformat()},
    )
    assert wide["topHashtags"] == result["topHashtags"]


async def test_a_tag_edited_away_leaves_top_hashtags_and_delete_keeps_counts(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    cid = conversation["id"]
    once = await send(client, alice, cid, "#fleeting")
    kept = await send(client, alice, cid, "#kept")
    await edit(client, alice, once["id"], "no tag now")
    await edit(client, alice, once["id"], "still none")  # nothing to take back: stays absent
    # A deleted message keeps its hashtag rows (the lists hide it), so it still counts,
    # like its message in the day counts.
    assert (await delete_message(client, alice, kept["id"])).status_code in (200, 204)
    assert (await figures(client, alice, cid))["topHashtags"] == [{"tag": "kept", "count": 1}]


async def test_hashtags_of_another_period_are_left_out(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await send(client, alice, conversation["id"], "today's #news")
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    earlier = await figures(client, alice, conversation["id"], to=yesterday)
    assert earlier["topHashtags"] == []
    tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    later = await figures(client, alice, conversation["id"], **{"from": tomorrow, "to": tomorrow})
    assert later["topHashtags"] == []
    now = await figures(client, alice, conversation["id"], **{"from": today(), "to": today()})
    assert now["topHashtags"] == [{"tag": "news", "count": 1}]


async def unreact(client: httpx.AsyncClient, user: User, message_id: str, emoji: str) -> None:
    response = await client.delete(
        f"/messages/{message_id}/reactions/{emoji}", headers=user.headers
    )
    assert response.status_code == 200, response.text


async def test_top_reactions_follow_adds_and_take_backs(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    cid = conversation["id"]
    messages = [await send(client, alice, cid, f"m{i}") for i in range(3)]
    other = await create_conversation(client, alice, [bob])
    elsewhere = await send(client, alice, other["id"], "not counted here")
    party = "\N{PARTY POPPER}"
    standing: set[tuple[str, str, str]] = set()  # (message, user, emoji), counted here
    for message in messages:
        for user in (alice, bob, carol):
            await react(client, user, message["id"], THUMBS_UP)
            standing.add((message["id"], user.username, THUMBS_UP))
    for user in (bob, carol):
        await react(client, user, messages[0]["id"], HEART)
        standing.add((messages[0]["id"], user.username, HEART))
    await react(client, bob, messages[1]["id"], party)
    await react(client, bob, messages[1]["id"], party)  # again: changes nothing
    await react(client, alice, messages[2]["id"], party)
    standing |= {
        (messages[1]["id"], bob.username, party),
        (messages[2]["id"], alice.username, party),
    }
    await react(client, bob, elsewhere["id"], party)
    # Taken back: three thumbs and one heart; a take-back of what is not there changes nothing.
    for message in messages:
        await unreact(client, carol, message["id"], THUMBS_UP)
        standing.discard((message["id"], carol.username, THUMBS_UP))
    await unreact(client, bob, messages[0]["id"], HEART)
    await unreact(client, bob, messages[0]["id"], HEART)
    await unreact(client, carol, messages[2]["id"], party)
    standing.discard((messages[0]["id"], bob.username, HEART))

    expected: dict[str, int] = {}
    for _, _, emoji in standing:
        expected[emoji] = expected.get(emoji, 0) + 1
    result = await figures(client, alice, cid)
    assert result["topReactions"] == [
        {"emoji": emoji, "count": count}
        for emoji, count in sorted(expected.items(), key=lambda item: (-item[1], item[0]))
    ]
    assert [row["count"] for row in result["topReactions"]] == [6, 2, 1]  # distinct counts


async def test_an_emoji_taken_back_everywhere_leaves_top_reactions(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    message = await send(client, alice, conversation["id"], "once liked")
    await react(client, bob, message["id"], THUMBS_UP)
    await unreact(client, bob, message["id"], THUMBS_UP)
    assert (await figures(client, alice, conversation["id"]))["topReactions"] == []


async def test_reactions_of_another_period_are_left_out(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    message = await send(client, alice, conversation["id"], "today's")
    await react(client, bob, message["id"], THUMBS_UP)
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    earlier = await figures(client, alice, conversation["id"], to=yesterday)
    assert earlier["topReactions"] == []
    now = await figures(client, alice, conversation["id"])
    assert now["topReactions"] == [{"emoji": THUMBS_UP, "count": 1}]


async def test_read_rate_follows_the_read_pointers(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    cid = conversation["id"]
    sent = [await send(client, alice, cid, f"m{i}") for i in range(4)]
    assert (await figures(client, alice, cid))["readRate"] == pytest.approx(4 / 12)
    assert (await mark_read(client, bob, cid, sent[1]["id"])).status_code == 200
    # alice (the sender) reached all 4, bob 2, carol none: 6 of 12 (message, member) pairs.
    assert (await figures(client, alice, cid))["readRate"] == pytest.approx(6 / 12)


def _sql_values(env: dict[str, str], message_id: str, at: datetime) -> tuple[str, str]:
    """An id and a time as literals of the test run's engine."""
    if "DATABASE_URL" in env:
        return f"'{message_id}'", f"'{at.isoformat()}'"
    return f"'{uuid.UUID(message_id).hex}'", f"'{at.strftime('%Y-%m-%d %H:%M:%S.%f')}'"


async def test_median_first_response_of_a_scripted_exchange(
    client: httpx.AsyncClient,
    backend_env: dict[str, str],
    alice: User,
    bob: User,
    carol: User,
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    cid = conversation["id"]
    # (sender, seconds after the start): turns alice@0 -> bob@60 (60 s), bob@60 -> alice@100
    # (40 s), alice@100 -> carol@400 (300 s); carol's turn has no answer. Median: 60 s.
    script = [(alice, 0), (alice, 10), (bob, 60), (bob, 70), (alice, 100), (carol, 400)]
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    statements = []
    for user, offset in script:
        message = await send(client, user, cid, "exchange")
        id_literal, at_literal = _sql_values(
            backend_env, message["id"], start + timedelta(seconds=offset)
        )
        statements.append(
            f"UPDATE messages SET server_timestamp = {at_literal} WHERE id = {id_literal}"
        )
    await execute_sql(backend_env, statements)
    result = await figures(client, alice, cid)
    assert result["medianFirstResponseSeconds"] == pytest.approx(60.0)


async def test_empty_period_has_no_figures(client: httpx.AsyncClient, alice: User) -> None:
    conversation = await create_conversation(client, alice, [])
    result = await figures(client, alice, conversation["id"], to="2020-01-31")
    assert result["from"] == "2020-01-02"
    assert result["days"] == []
    assert result["totals"] == {"messages": 0, "activeMembers": 0}
    assert result["medianFirstResponseSeconds"] is None
    assert result["readRate"] is None
    assert result["topReactions"] == [] and result["topHashtags"] == []


async def test_member_is_refused(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    conversation = await create_conversation(client, alice, [bob, carol])
    assert_error(await analytics(client, carol, conversation["id"]), 403, "PERMISSION_DENIED")


async def test_non_member_sees_no_conversation(
    client: httpx.AsyncClient, alice: User, mallory: User
) -> None:
    conversation = await create_conversation(client, alice, [])
    assert_error(
        await analytics(client, mallory, conversation["id"]), 404, "CONVERSATION_NOT_FOUND"
    )
    assert_error(await analytics(client, mallory, str(uuid.uuid4())), 404, "CONVERSATION_NOT_FOUND")


async def test_admin_may_read(client: httpx.AsyncClient, alice: User, bob: User) -> None:
    conversation = await create_conversation(client, alice, [bob])
    await set_role(client, alice, conversation["id"], bob, "ADMIN")
    assert (await analytics(client, bob, conversation["id"])).status_code == 200


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-02-01", "to": "2026-01-01"},
        {"from": "2024-01-01", "to": "2025-12-31"},
        {"from": "yesterday"},
        {"to": "2026-13-01"},
    ],
)
async def test_bad_period_is_422(
    client: httpx.AsyncClient, alice: User, params: dict[str, str]
) -> None:
    conversation = await create_conversation(client, alice, [])
    assert_error(
        await analytics(client, alice, conversation["id"], **params), 422, "VALIDATION_ERROR"
    )


async def _parley(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        PARLEY,
        *args,
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_cli_prints_the_same_figures(
    client: httpx.AsyncClient, backend_env: dict[str, str], alice: User, bob: User
) -> None:
    conversation = await create_conversation(client, alice, [bob])
    cid = conversation["id"]
    message = await send(client, alice, cid, "hello #launch")
    await send(client, bob, cid, "hi")
    await react(client, bob, message["id"], THUMBS_UP)
    code, out, err = await _parley(backend_env, "analytics", cid, "--from", today())
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"conversation {cid}  {today()} .. {today()}"
    assert lines[3].split() == [today(), "2", "2"]
    assert lines[4].split() == ["total", "2", "2"]
    assert f"top reactions: {THUMBS_UP} 1" in lines
    assert "top hashtags: #launch 1" in lines


async def test_cli_refuses_an_unknown_conversation(backend_env: dict[str, str]) -> None:
    code, _, err = await _parley(backend_env, "analytics", str(uuid.uuid4()))
    assert code != 0
    assert "no conversation" in err


async def test_openapi_documents_analytics_and_its_errors(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    operation = document["paths"]["/conversations/{conversation_id}/analytics"]["get"]
    assert {"200", "401", "403", "404", "422"} <= set(operation["responses"])
    assert {"from", "to"} <= {parameter["name"] for parameter in operation["parameters"]}
    fields = document["components"]["schemas"]["AnalyticsOut"]["properties"]
    assert {"from", "to", "days", "totals", "readRate", "medianFirstResponseSeconds"} <= set(fields)
