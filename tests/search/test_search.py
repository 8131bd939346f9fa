"""GET /messages/search: ranked full-text hits with HTML-safe snippets, paged, filtered, and
only ever from messages the caller may read now (not held, deleted or encrypted)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import BACKEND, start_server
from tests.support import (
    Server,
    User,
    assert_error,
    create_conversation,
    delete_message,
    envelope,
    register,
    remove,
    send,
    sql_statements,
)

HELD = "fuck this shit, fuck"  # held for review (tests/moderation/test_moderation.py)


def _word(stem: str = "w") -> str:
    """The index is shared by every test: a fresh word keeps each test to its own hits."""
    return f"{stem}{secrets.token_hex(5)}"


async def _search(client: httpx.AsyncClient, user: User, q: str, **params: Any) -> dict[str, Any]:
    response = await client.get("/messages/search", params={"q": q, **params}, headers=user.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _ids(client: httpx.AsyncClient, user: User, q: str, **params: Any) -> list[str]:
    return [hit["id"] for hit in (await _search(client, user, q, **params))["items"]]


# ---------------------------------------------------------------- the route


async def test_search_is_not_taken_for_a_message_id(client: httpx.AsyncClient, alice: User) -> None:
    """GET /messages/{id} is declared by the messages router; search must still answer."""
    page = await _search(client, alice, _word())
    assert page == {"items": [], "nextCursor": None}

    response = await client.get("/messages/search", headers=alice.headers)
    body = assert_error(response, 422, "VALIDATION_ERROR")
    assert [error["field"] for error in body["details"]["errors"]] == ["query.q"]


async def test_hit_is_the_rendered_message_with_snippet_and_rank(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    word = _word()
    conversation = await create_conversation(client, alice, [bob])
    sent = await send(client, alice, conversation["id"], f"deploy {word} tonight #ops")

    [hit] = (await _search(client, bob, word))["items"]

    assert {key: hit[key] for key in sent if key != "status"} == {
        key: value for key, value in sent.items() if key != "status"
    }
    assert hit["snippet"] == f"deploy <mark>{word}</mark> tonight #ops"
    assert isinstance(hit["rank"], float) and hit["rank"] > 0


# ---------------------------------------------------------------- matching


async def test_closer_and_shorter_matches_rank_first(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    first, second = _word(), _word()
    conversation = await create_conversation(client, alice, [bob])
    far = await send(
        client, alice, conversation["id"], f"{first} " + "filler " * 40 + f"then {second}"
    )
    close = await send(client, alice, conversation["id"], f"{first} {second}")

    assert await _ids(client, bob, f"{first} {second}") == [close["id"], far["id"]]


async def test_every_word_must_match(client: httpx.AsyncClient, alice: User, bob: User) -> None:
    first, second = _word(), _word()
    conversation = await create_conversation(client, alice, [bob])
    both = await send(client, alice, conversation["id"], f"{first} and {second}")
    await send(client, alice, conversation["id"], f"only {first}")

    assert await _ids(client, bob, f"{second} {first}") == [both["id"]]


async def test_last_word_matches_as_a_prefix_the_others_do_not(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    word, other = _word("pfx"), _word("oth")
    conversation = await create_conversation(client, alice, [bob])
    message = await send(client, alice, conversation["id"], f"{word} {other}")

    assert await _ids(client, bob, word[:6]) == [message["id"]]
    assert await _ids(client, bob, f"{word} {other[:5]}") == [message["id"]]
    assert await _ids(client, bob, f"{word[:6]} {other}") == []


async def test_a_last_word_under_three_characters_is_whole(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    """Two letters would expand to most of the vocabulary: they match only themselves."""
    word = _word("qz")
    conversation = await create_conversation(client, alice, [bob])
    message = await send(client, alice, conversation["id"], f"{word} qz")

    assert await _ids(client, bob, word[:3]) == [message["id"]]
    assert await _ids(client, bob, f"{word} q") == []
    assert await _ids(client, bob, f"{word} qz") == [message["id"]]


async def test_case_and_accents_do_not_matter(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    word = _word("cafe")
    conversation = await create_conversation(client, alice, [bob])
    message = await send(client, alice, conversation["id"], f"Grand {word.upper()} crème")

    assert await _ids(client, bob, f"{word} crème") == [message["id"]]


async def test_snippet_escapes_the_text_and_marks_the_matches(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    word = _word()
    conversation = await create_conversation(client, alice, [bob])
    await send(
        client,
        alice,
        conversation["id"],
        f'<script>alert("{word}")</script> if a < b && c > "d": \ue001{word}\ue000 <b>x</b>',
    )

    [hit] = (await _search(client, bob, word))["items"]

    snippet = hit["snippet"]
    assert "<script>" not in snippet and "<b>" not in snippet
    # PostgreSQL's ts_headline leaves tags out; SQLite keeps them, escaped.
    assert "&lt; b &amp;&amp; c &gt; &quot;d&quot;:" in snippet
    # The message's own U+E000/U+E001 are dropped: they can never open or close a mark.
    assert f": <mark>{word}</mark> " in snippet
    assert snippet.count("<mark>") == snippet.count("</mark>") == snippet.count(f">{word}<")
    assert "\ue000" not in snippet and "\ue001" not in snippet


async def test_long_message_gets_a_short_snippet_around_the_match(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    word = _word()
    conversation = await create_conversation(client, alice, [bob])
    text = "lorem " * 300 + word + " ipsum" * 300
    await send(client, alice, conversation["id"], text)

    [hit] = (await _search(client, bob, word))["items"]

    assert f"<mark>{word}</mark>" in hit["snippet"]
    assert len(hit["snippet"]) < 400
    assert hit["content"] == text


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '""',
        "*",
        "a*",
        "NEAR",
        "NEAR(a b)",
        "AND",
        "OR",
        "NOT",
        "-",
        "-x",
        ":",
        "content:x",
        "^x",
        "x + y",
        "(",
        ")",
        "'",
        "''x''",
        "\\",
        "&",
        "|",
        "!",
        "<->",
        "a:*",
        "a & !b | c",
        "{x}",
        "%_",
        "\x00x",
        "!!!",
        "💥",
        "a" * 200,
        "x " * 100,
    ],
)
async def test_query_syntax_in_user_text_is_only_text(
    client: httpx.AsyncClient, alice: User, query: str
) -> None:
    response = await client.get("/messages/search", params={"q": query}, headers=alice.headers)
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:  # only for text the query string cannot carry
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_undecodable_query_text_is_422_not_500(
    client: httpx.AsyncClient, alice: User
) -> None:
    response = await client.get("/messages/search?q=%ED%A0%80%FF", headers=alice.headers)
    assert response.status_code in (200, 422), response.text


async def test_operator_words_are_searched_as_words(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    word = _word()
    conversation = await create_conversation(client, alice, [bob])
    message = await send(client, alice, conversation["id"], f"{word} NEAR the AND gate: x-ray")

    assert await _ids(client, bob, f'"{word}" NEAR AND -ray:*') == [message["id"]]


async def test_punctuation_only_query_finds_nothing(client: httpx.AsyncClient, alice: User) -> None:
    assert await _search(client, alice, "?! ... --") == {"items": [], "nextCursor": None}


# ---------------------------------------------------------------- paging


async def test_pages_cover_every_hit_once(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    word = _word()
    conversation = await create_conversation(client, alice, [bob])
    sent = {
        (await send(client, alice, conversation["id"], f"{word} " + "x " * i))["id"]
        for i in range(7)
    }

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = await _search(client, bob, word, **params)
        seen += [hit["id"] for hit in page["items"]]
        ranks = [hit["rank"] for hit in page["items"]]
        assert ranks == sorted(ranks, reverse=True)
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break

    assert pages == 3
    assert len(seen) == len(set(seen)) == 7
    assert set(seen) == sent


async def test_ties_page_by_id_without_gaps(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    """Equal texts rank equally: the id breaks the tie, so no hit is lost between pages."""
    word = _word()
    conversation = await create_conversation(client, alice, [bob])
    sent = {(await send(client, alice, conversation["id"], word))["id"] for _ in range(5)}

    first = await _search(client, bob, word, limit=2)
    second = await _search(client, bob, word, limit=2, cursor=first["nextCursor"])
    third = await _search(client, bob, word, limit=2, cursor=second["nextCursor"])

    seen = [hit["id"] for page in (first, second, third) for hit in page["items"]]
    assert len(seen) == 5 and set(seen) == sent
    assert third["nextCursor"] is None


async def test_a_page_costs_the_same_statements_for_one_hit_or_many(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    """The page and its rows in one statement, then the snippets and the reactions (and on
    PostgreSQL the plan-cache setting first): no statement per hit."""
    one, many = _word(), _word()
    conversation = await create_conversation(client, alice, [bob])
    await send(client, alice, conversation["id"], one)
    for _ in range(4):
        await send(client, alice, conversation["id"], many)
    await _search(client, bob, one)  # warm-up: the user and membership caches

    statements = []
    for word in (one, many):
        response = await client.get("/messages/search", params={"q": word}, headers=bob.headers)
        assert response.status_code == 200, response.text
        statements.append(sql_statements(response))

    expected = 4 if BACKEND == "postgres" else 3
    assert statements == [expected, expected]


# ---------------------------------------------------------------- filters


async def test_filter_by_conversation(client: httpx.AsyncClient, alice: User, bob: User) -> None:
    word = _word()
    one = await create_conversation(client, alice, [bob])
    two = await create_conversation(client, alice, [bob])
    in_one = await send(client, alice, one["id"], word)
    await send(client, alice, two["id"], word)

    assert await _ids(client, bob, word, conversationId=one["id"]) == [in_one["id"]]


async def test_filter_by_sender(client: httpx.AsyncClient, alice: User, bob: User) -> None:
    word = _word()
    conversation = await create_conversation(client, alice, [bob])
    await send(client, alice, conversation["id"], word)
    by_bob = await send(client, bob, conversation["id"], word)

    assert await _ids(client, alice, word, senderId=bob.id) == [by_bob["id"]]


async def test_filter_by_time(client: httpx.AsyncClient, alice: User, bob: User) -> None:
    word = _word()
    conversation = await create_conversation(client, alice, [bob])
    older = await send(client, alice, conversation["id"], word)
    newer = await send(client, alice, conversation["id"], f"{word} again")
    at = newer["serverTimestamp"]

    assert await _ids(client, bob, word, **{"from": at}) == [newer["id"]]
    assert await _ids(client, bob, word, to=at) == [older["id"]]
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert await _ids(client, bob, word, **{"from": later}) == []
    assert set(await _ids(client, bob, word, to=later)) == {older["id"], newer["id"]}


async def test_filter_by_hashtag_with_or_without_hash(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    word, tag = _word(), _word("tag")
    conversation = await create_conversation(client, alice, [bob])
    tagged = await send(client, alice, conversation["id"], f"{word} #{tag.upper()}")
    await send(client, alice, conversation["id"], f"{word} #other")

    assert await _ids(client, bob, word, hashtag=tag) == [tagged["id"]]
    assert await _ids(client, bob, word, hashtag=f"#{tag}") == [tagged["id"]]


async def test_filter_by_mention(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    word = _word()
    conversation = await create_conversation(client, alice, [bob, carol])
    mentioning = await send(client, alice, conversation["id"], f"{word} @{carol.username}")
    await send(client, alice, conversation["id"], f"{word} @{bob.username}")

    assert await _ids(client, bob, word, mention=carol.username) == [mentioning["id"]]
    assert await _ids(client, bob, word, mention=f"@{carol.username.upper()}") == [mentioning["id"]]
    assert await _ids(client, bob, word, mention="nobody_has_this_name") == []


async def test_filters_combine(
    client: httpx.AsyncClient, alice: User, bob: User, carol: User
) -> None:
    word, tag = _word(), _word("tag")
    conversation = await create_conversation(client, alice, [bob, carol])
    other = await create_conversation(client, alice, [bob, carol])
    wanted = await send(client, bob, conversation["id"], f"{word} #{tag} @{carol.username}")
    await send(client, alice, conversation["id"], f"{word} #{tag} @{carol.username}")
    await send(client, bob, conversation["id"], f"{word} @{carol.username}")
    await send(client, bob, conversation["id"], f"{word} #{tag}")
    await send(client, bob, other["id"], f"{word} #{tag} @{carol.username}")

    found = await _ids(
        client,
        carol,
        word,
        conversationId=conversation["id"],
        senderId=bob.id,
        hashtag=tag,
        mention=carol.username,
    )
    assert found == [wanted["id"]]


# ---------------------------------------------------------------- who sees what


async def test_non_member_never_gets_a_hit(
    client: httpx.AsyncClient, alice: User, bob: User, mallory: User
) -> None:
    word = _word()
    conversation = await create_conversation(client, alice, [bob])
    await send(client, alice, conversation["id"], word)

    assert await _ids(client, mallory, word) == []
    response = await client.get(
        "/messages/search",
        params={"q": word, "conversationId": conversation["id"]},
        headers=mallory.headers,
    )
    assert_error(response, 404, "CONVERSATION_NOT_FOUND")


@pytest.mark.parametrize("by", ["bob", "alice"], ids=["member-leaves", "member-is-removed"])
async def test_member_who_leaves_or_is_removed_loses_hits_at_once(
    client: httpx.AsyncClient, alice: User, bob: User, by: str
) -> None:
    word = _word()
    conversation = await create_conversation(client, alice, [bob])
    message = await send(client, alice, conversation["id"], word)
    assert await _ids(client, bob, word) == [message["id"]]
    remover = {"alice": alice, "bob": bob}[by]

    assert (await remove(client, remover, conversation["id"], bob)).status_code in (200, 204)

    assert await _ids(client, bob, word) == []
    assert await _ids(client, alice, word) == [message["id"]]


async def test_deleted_message_is_not_found(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    word = _word()
    conversation = await create_conversation(client, alice, [bob])
    message = await send(client, alice, conversation["id"], word)
    kept = await send(client, alice, conversation["id"], f"{word} kept")

    assert (await delete_message(client, alice, message["id"])).status_code == 200

    assert await _ids(client, bob, word) == [kept["id"]]


async def test_edit_is_reindexed(client: httpx.AsyncClient, alice: User, bob: User) -> None:
    before, after = _word(), _word()
    conversation = await create_conversation(client, alice, [bob])
    message = await send(client, alice, conversation["id"], f"{before} draft")

    response = await client.put(
        f"/messages/{message['id']}", json={"content": f"{after} final"}, headers=alice.headers
    )
    assert response.status_code == 200, response.text

    assert await _ids(client, bob, before) == []
    [hit] = (await _search(client, bob, after))["items"]
    assert (hit["id"], hit["content"]) == (message["id"], f"{after} final")
    assert await _ids(client, bob, "draft " + before) == []


async def test_held_message_is_found_by_nobody(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    word = _word()
    conversation = await create_conversation(client, alice, [bob])
    held = await send(client, bob, conversation["id"], f"{HELD} {word}")
    assert held["status"] == "MODERATED"

    assert await _ids(client, bob, word) == []  # not even its sender
    assert await _ids(client, alice, word) == []  # nor the owner, who reviews it


async def test_encrypted_message_is_not_found(
    client: httpx.AsyncClient, alice: User, bob: User
) -> None:
    word = _word("kid")
    conversation = await create_conversation(
        client, alice, [bob], settings={"endToEndEncryption": True}
    )
    await send(client, alice, conversation["id"], envelope(word), encrypted=True)

    assert await _ids(client, bob, word) == []
    assert await _ids(client, alice, word) == []


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"q": "x", "conversationId": "nope"}, "query.conversationId"),
        ({"q": "x", "senderId": "1234"}, "query.senderId"),
        ({"q": "x", "from": "yesterday"}, "query.from"),
        ({"q": "x", "to": "2026-13-01"}, "query.to"),
        ({"q": "x", "to": "9999-12-31T23:59:59"}, "query.to"),
        ({"q": "x", "hashtag": "#no way"}, "hashtag"),
        ({"q": "x", "mention": "@no way"}, "mention"),
        ({"q": "x", "limit": "0"}, "query.limit"),
        ({"q": "x", "limit": "101"}, "query.limit"),
        ({"q": "x", "cursor": "not-a-cursor"}, "cursor"),
        ({"q": "x", "cursor": "aW5mfDEyMw"}, "cursor"),  # "inf|123"
    ],
)
async def test_bad_input_is_422(
    client: httpx.AsyncClient, alice: User, params: dict[str, str], field: str
) -> None:
    response = await client.get("/messages/search", params=params, headers=alice.headers)
    body = assert_error(response, 422, "VALIDATION_ERROR")
    assert field in [error["field"] for error in body["details"]["errors"]]


async def test_search_needs_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/messages/search", params={"q": "x"})
    assert_error(response, 401, "UNAUTHORIZED")


async def test_new_user_searches_their_own_conversations(client: httpx.AsyncClient) -> None:
    word = _word()
    dana, eve = await register(client, "dana"), await register(client, "eve")
    conversation = await create_conversation(client, dana, [eve], type_="DIRECT")
    message = await send(client, eve, conversation["id"], f"hi {word}")

    assert await _ids(client, dana, word) == [message["id"]]


async def test_openapi_documents_search_and_its_errors(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    operation = document["paths"]["/messages/search"]["get"]

    assert {"200", "401", "404", "422"} <= set(operation["responses"])
    parameters = {parameter["name"] for parameter in operation["parameters"]}
    assert {"q", "conversationId", "senderId", "from", "to", "hashtag", "mention"} <= parameters
    assert {"limit", "cursor"} <= parameters
    hit = document["components"]["schemas"]["SearchHit"]["properties"]
    assert {"snippet", "rank", "content", "seq"} <= set(hit)


@pytest.mark.skipif(BACKEND != "postgres", reason="the text search configuration is PostgreSQL's")
async def test_queries_use_the_configuration_the_index_was_built_with(
    backend_env: dict[str, str], server: Server
) -> None:
    """SEARCH_LANGUAGE changed after migrating (english: "the" is a stop word) must not make
    queries disagree with the index (built with `simple` when the session's `server`
    migrated the database): "the" is still found."""
    changed = start_server(backend_env, {"SEARCH_LANGUAGE": "english"})
    try:
        async with httpx.AsyncClient(base_url=changed.url, timeout=30) as client:
            alice = await register(client, "alice")
            conversation = await create_conversation(client, alice, [])
            message = await send(client, alice, conversation["id"], "the")
            found = await _ids(client, alice, "the", conversationId=conversation["id"])
            assert found == [message["id"]]
    finally:
        changed.stop()
