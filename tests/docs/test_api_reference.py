"""docs/api.md is the whole reference: it names every route the server serves and every
Socket.IO event, both ways, and stands on its own."""

from __future__ import annotations

import re

import httpx

from tests.conftest import ROOT

API_DOC = ROOT / "docs" / "api.md"


def _section(text: str, heading: str) -> str:
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _named(text: str, method: str, path: str) -> bool:
    """`METHOD /path` in the text, any name standing for each `{parameter}`, and not the start
    of a longer path."""
    pattern = re.sub(r"\\\{\w+\\\}", r"\\{[^}]+\\}", re.escape(f"{method} {path}"))
    return re.search(pattern + r"(?![\w/{])", text) is not None


def test_named_is_strict() -> None:
    assert _named("see `GET /messages/{id}/thread?after=`", "GET", "/messages/{message_id}/thread")
    assert not _named("`GET /users/me/export`", "GET", "/users/me")
    assert not _named("`GET /messages/{id}`", "PUT", "/messages/{message_id}")


async def test_every_route_is_described(client: httpx.AsyncClient) -> None:
    text = API_DOC.read_text()
    paths = (await client.get("/openapi.json")).json()["paths"]
    routes = [(method.upper(), path) for path, item in paths.items() for method in item]
    routes += [("GET", "/openapi.json"), ("GET", "/docs"), ("GET", "/asyncapi.json")]

    assert len(routes) > 40
    assert [route for route in routes if not _named(text, *route)] == []


async def test_every_socket_event_is_described_in_its_direction(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/asyncapi.json")).json()
    socket = _section(API_DOC.read_text(), "Socket.IO")
    directions = {
        "send": socket[socket.index("### Server -> client") :],
        "receive": socket[socket.index("### Client -> server") : socket.index("### Server ->")],
    }
    missing = []
    for operation in document["operations"].values():
        name = operation["messages"][0]["$ref"].rsplit("/", 1)[-1]
        first_cells = [
            line.split(" | ")[0]
            for line in directions[operation["action"]].splitlines()
            if line.startswith("| `")
        ]
        if not any(f"`{name}`" in cell for cell in first_cells):
            missing.append((operation["action"], name))

    assert len(document["operations"]) >= 20
    assert missing == []


def test_the_reference_names_no_file_outside_the_repository() -> None:
    text = API_DOC.read_text()

    assert "api-contract" not in text
    assert "/work/" not in text and "shared/" not in text
