"""The SSRF rules end to end, on a server with them on (PREVIEW_ALLOW_PRIVATE=false) and
127.0.0.2/32 as its one allowed exception (PREVIEW_ALLOW_NETWORKS): a link to a refused
address, or a name resolving to one, makes no request at all; a permitted page that
redirects to a refused address or another scheme is not followed there."""

from __future__ import annotations

import secrets
from urllib.parse import quote

import httpx
import pytest

from tests.previews.conftest import Counters, message_updated, pair
from tests.previews.pages import PageServer, has_ipv6_loopback
from tests.realtime.sockets import Recorder, open_socket
from tests.support import Server, create_conversation, get_message, send

ALLOWED = "127.0.0.2"


def tag() -> str:
    return secrets.token_hex(6)


async def test_a_page_on_an_allowed_network_is_previewed(
    guarded_server: Server,
    guarded_client: httpx.AsyncClient,
    pages: PageServer,
    sockets: list[Recorder],
) -> None:
    alice, bob = await pair(guarded_client)
    conversation = await create_conversation(guarded_client, alice, [bob])
    listener = await open_socket(sockets, guarded_server, bob)
    name = tag()
    link = pages.url(f"/og/{name}", ALLOWED)

    sent = await send(guarded_client, alice, conversation["id"], link)

    (preview,) = (await message_updated(listener, sent["id"]))["message"]["metadata"]["urlPreviews"]
    assert preview["url"] == link
    assert pages.requested(name) == [(ALLOWED, f"/og/{name}")]


async def test_loopback_and_names_resolving_to_it_are_refused_without_a_request(
    guarded_client: httpx.AsyncClient, pages: PageServer
) -> None:
    alice, bob = await pair(guarded_client)
    conversation = await create_conversation(guarded_client, alice, [bob])
    names = [tag(), tag(), tag()]
    links = [
        pages.url(f"/og/{names[0]}", "127.0.0.1"),
        pages.url(f"/og/{names[1]}", "localhost"),  # a DNS name that resolves to loopback
        pages.url(f"/og/{names[2]}", "[::1]"),
    ]
    counters = await Counters.start(guarded_client)

    sent = await send(guarded_client, alice, conversation["id"], " ".join(links))

    await counters.reach(outcomes={"refused_address": 3}, results={"none": 1})
    for name in names:
        assert pages.requested(f"/og/{name}") == []
    assert (await get_message(guarded_client, bob, sent["id"]))["metadata"]["urlPreviews"] == []


async def test_private_link_local_and_metadata_addresses_are_refused(
    guarded_client: httpx.AsyncClient,
) -> None:
    alice, bob = await pair(guarded_client)
    conversation = await create_conversation(guarded_client, alice, [bob])
    links = [
        "http://10.0.0.1/admin",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:192.168.0.1]/router",
    ]
    counters = await Counters.start(guarded_client)

    await send(guarded_client, alice, conversation["id"], " ".join(links))

    samples = await counters.reach(outcomes={"refused_address": 3}, results={"none": 1})
    # Refused before any connection: none of them timed out or failed to connect.
    for outcome in ("timeout", "error", "fetched"):
        assert counters.moved(samples, "parley_link_previews_total", "outcome", outcome) == 0


async def test_a_redirect_to_a_refused_address_is_not_followed(
    guarded_client: httpx.AsyncClient, pages: PageServer
) -> None:
    alice, bob = await pair(guarded_client)
    conversation = await create_conversation(guarded_client, alice, [bob])
    names = [tag(), tag()]
    targets = [
        pages.url(f"/og/{names[0]}", "127.0.0.1"),
        pages.url(f"/og/{names[1]}", "localhost"),
        "http://169.254.169.254/latest/meta-data/",
    ]
    links = [pages.url(f"/to?location={quote(target, safe='')}", ALLOWED) for target in targets]
    counters = await Counters.start(guarded_client)

    await send(guarded_client, alice, conversation["id"], " ".join(links))

    await counters.reach(outcomes={"refused_address": 3}, results={"none": 1})
    assert len(pages.requested("/to?location=")) >= 3  # the permitted hops were asked
    for name in names:
        assert pages.requested(f"/og/{name}") == []


async def test_a_redirect_to_another_scheme_is_not_followed(
    guarded_client: httpx.AsyncClient, pages: PageServer
) -> None:
    alice, bob = await pair(guarded_client)
    conversation = await create_conversation(guarded_client, alice, [bob])
    name = tag()
    targets = ["file:///etc/passwd", f"ftp://{ALLOWED}:{pages.port}/og/{name}", "gopher://x/"]
    links = [pages.url(f"/to?location={quote(target, safe='')}", ALLOWED) for target in targets]
    counters = await Counters.start(guarded_client)

    await send(guarded_client, alice, conversation["id"], " ".join(links))

    await counters.reach(outcomes={"refused_scheme": 3}, results={"none": 1})
    assert pages.requested(f"/og/{name}") == []


@pytest.mark.skipif(not has_ipv6_loopback(), reason="the machine has no ::1")
async def test_ipv6_loopback_page_exists_for_the_refusal_test(pages: PageServer) -> None:
    """The [::1] refusal above means something only if a page was there to be reached."""
    async with httpx.AsyncClient() as http:
        response = await http.get(pages.url(f"/og/{tag()}", "[::1]"))
    assert response.status_code == 200
