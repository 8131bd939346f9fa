"""The AsyncAPI document at /asyncapi.json against the official AsyncAPI 3.0.0 schema, against
the events the code can emit, and against the events and acknowledgements a running server
sends through a whole conversation.

The official schema comes from the npm package @asyncapi/specs, which `make test` installs
(npm ci in tests/realtime/node); no Python package ships it."""

from __future__ import annotations

import ast
import copy
import importlib
import json
import signal
import uuid
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from parley.core.config import load_settings
from parley.core.events import Event, EventName
from parley.realtime.catalogue import CLIENT_ENTRIES
from parley.realtime.server import create_socket_server
from tests.conftest import start_server
from tests.realtime.sockets import Connect, Recorder
from tests.scheduled.helpers import LEAD_SECONDS, at, schedule
from tests.support import (
    PASSWORD,
    Server,
    User,
    add,
    assert_error,
    create_conversation,
    new_client_id,
    post_message,
    register,
    remove,
    send,
    set_role,
)

ROOT = Path(__file__).resolve().parents[2]
SPECS = Path(__file__).parent / "node" / "node_modules" / "@asyncapi" / "specs" / "schemas"
EVENT_MODULES = [
    "parley.accounts.events",
    "parley.conversations.events",
    "parley.inbox.events",
    "parley.messages.events",
    "parley.presence.events",
    "parley.ratelimit.events",
    "parley.realtime.catalogue",
]
# Calls that pass on an event they were given (an `Event` spec or its name, typed as such),
# by file: the publisher chain, and actions that pick one of their catalogue entries.
FORWARDERS = {
    ("parley/core/events.py", "event"),
    ("parley/core/events.py", "event.name"),
    ("parley/realtime/publish.py", "str(event)"),
    ("parley/realtime/fanout.py", "event"),
    ("parley/realtime/fanout.py", "self"),  # EncodeOnce.emit(self, event, ...)
    ("parley/conversations/actions/_shared.py", "event"),
    ("parley/messages/actions/reactions.py", "announce"),
}
FLAGGED = "you are a fucking idiot"  # scores as flagged (tests/moderation)


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/asyncapi.json")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    return body


def _official_schema() -> dict[str, Any]:
    path = SPECS / "3.0.0-without-$id.json"
    assert path.is_file(), "run `npm ci` in tests/realtime/node (make test does)"
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


def _resolve(document: dict[str, Any], node: Any) -> Any:
    """Follow `$ref`s (local JSON pointers) until a node that is not one."""
    while isinstance(node, dict) and "$ref" in node:
        reference = node["$ref"]
        assert reference.startswith("#/"), reference
        node = document
        for part in reference[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            assert isinstance(node, dict) and part in node, reference
            node = node[part]
    return node


def _references(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _references(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _references(value)]
    return []


def _closed(schema: Any) -> Any:
    """`schema` with `additionalProperties: false` wherever an object lists its properties
    and says nothing of others: a payload field the document does not describe fails."""
    if isinstance(schema, dict):
        closed = {key: _closed(value) for key, value in schema.items()}
        if "properties" in closed and "additionalProperties" not in closed:
            closed["additionalProperties"] = False
        return closed
    if isinstance(schema, list):
        return [_closed(value) for value in schema]
    return schema


def _operations(document: dict[str, Any], action: str) -> set[str]:
    return {
        str(_resolve(document, _resolve(document, operation["messages"][0]))["name"])
        for operation in document["operations"].values()
        if operation["action"] == action
    }


class Validator:
    """Checks payloads against the document, as a client reading only the document would."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.components = _closed(document["components"])
        self.seen: set[str] = set()
        self.acknowledged: set[str] = set()

    def _operation(self, name: str, action: str) -> dict[str, Any]:
        for operation in self.document["operations"].values():
            message = _resolve(self.document, operation["messages"][0])
            if message["name"] == name:
                assert operation["action"] == action, (name, operation["action"])
                return dict(operation)
        raise AssertionError(f"{name} is not in the document")

    def _errors(self, message_ref: Any, data: Any) -> list[str]:
        payload = _resolve(self.document, message_ref)["payload"]
        schema = {"allOf": [payload], "components": self.components}
        validator = jsonschema.Draft7Validator(schema)
        return [f"{error.json_path}: {error.message}" for error in validator.iter_errors(data)]

    def event(self, name: str, data: Any) -> None:
        """A server -> client event as received."""
        operation = self._operation(name, "send")
        assert self._errors(operation["messages"][0], data) == [], (name, data)
        self.seen.add(name)

    async def call(
        self, socket: Recorder, name: str, data: Any, *, fits: bool = True
    ) -> dict[str, Any]:
        """A client -> server event: its payload fits the document (or, `fits=False`, the
        document refuses it too), and its ack fits one and only one of the reply's messages."""
        operation = self._operation(name, "receive")
        assert (self._errors(operation["messages"][0], data) == []) is fits, (name, data)
        ack = await socket.call(name, data)
        replies = operation["reply"]["messages"]
        matching = [ref for ref in replies if not self._errors(ref, ack)]
        assert len(matching) == 1, (name, ack, [self._errors(ref, ack) for ref in replies])
        self.acknowledged.add(name)
        return ack

    async def until(self, socket: Recorder, name: str) -> Any:
        """Every event `socket` gets, checked, up to and including the next `name`."""
        while True:
            event, data = await socket.next()
            self.event(event, data)
            if event == name:
                return data

    def rest(self, sockets: list[Recorder]) -> None:
        """Check what is left in the sockets' queues."""
        for socket in sockets:
            while not socket.events.empty():
                self.event(*socket.events.get_nowait())


# ---------------------------------------------------------------- the document itself


async def test_document_is_valid_asyncapi_3_and_every_reference_resolves(
    document: dict[str, Any], server: Server
) -> None:
    errors = [
        f"{error.json_path}: {error.message}"
        for error in jsonschema.Draft7Validator(_official_schema()).iter_errors(document)
    ]

    assert errors == []
    assert document["asyncapi"] == "3.0.0"
    assert document["servers"]["parley"]["host"] == server.url.removeprefix("http://")
    for reference in _references(document):
        _resolve(document, {"$ref": reference})


def test_the_official_schema_refuses_a_broken_document() -> None:
    """The check above can fail: an operation without its channel is refused."""
    from parley.realtime.asyncapi import asyncapi_document

    broken = copy.deepcopy(asyncapi_document())
    del broken["operations"]["new_message"]["channel"]

    assert not jsonschema.Draft7Validator(_official_schema()).is_valid(broken)


# ---------------------------------------------------------------- the document vs the code


def _catalogue_constants() -> dict[str, str]:
    """The module-level names the code refers to an event's spec by -> the event's name."""
    names: dict[str, str] = {}
    for module_name in EVENT_MODULES:
        for attribute, value in vars(importlib.import_module(module_name)).items():
            if isinstance(value, Event):
                assert names.setdefault(attribute, str(value.name)) == str(value.name), attribute
    return names


def _called(node: ast.Call) -> str | None:
    function = node.func
    if isinstance(function, ast.Name):
        return function.id
    if isinstance(function, ast.Attribute):
        return function.attr
    return None


def _emitted_in_code() -> tuple[set[str], list[str]]:
    """The event names the code can emit (literal names in emit calls, and the catalogue
    entries that modules which emit refer to), and every emit call it cannot explain."""
    constants = _catalogue_constants()
    emitted: set[str] = set()
    unexplained: list[str] = []
    for path in sorted((ROOT / "parley").rglob("*.py")):
        relative = str(path.relative_to(ROOT))
        tree = ast.parse(path.read_text())
        calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
        emits = [
            call
            for call in calls
            if _called(call) in {"emit", "emit_after_commit"}
            # python-socketio's other ways to send an event: `server.send`, `server.call`.
            or (
                _called(call) in {"send", "call"}
                and isinstance(call.func, ast.Attribute)
                and ast.unparse(call.func.value).endswith("server")
            )
        ]
        for call in emits:
            position = 1 if _called(call) == "emit_after_commit" else 0
            if len(call.args) <= position:
                unexplained.append(f"{relative}:{call.lineno}: {ast.unparse(call)}")
                continue
            argument = call.args[position]
            expression = ast.unparse(argument)
            spec = expression.removeprefix("str(").removesuffix(")").removesuffix(".name")
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                emitted.add(argument.value)
            elif spec.rsplit(".", 1)[-1] in constants:
                emitted.add(constants[spec.rsplit(".", 1)[-1]])
            elif (relative, expression) not in FORWARDERS:
                unexplained.append(f"{relative}:{call.lineno}: {expression}")
        if emits and not relative.endswith(("/events.py", "/catalogue.py")):
            for node in ast.walk(tree):
                name = (
                    node.id
                    if isinstance(node, ast.Name)
                    else node.attr
                    if isinstance(node, ast.Attribute)
                    else None
                )
                if name in constants:
                    emitted.add(constants[name])
    return emitted, unexplained


def test_document_has_every_event_the_code_emits_and_no_other(document: dict[str, Any]) -> None:
    emitted, unexplained = _emitted_in_code()

    assert unexplained == []
    assert _operations(document, "send") == emitted
    assert emitted == {str(name) for name in EventName}


def test_document_has_every_event_the_server_handles_and_no_other(
    document: dict[str, Any],
) -> None:
    socket_server = create_socket_server(load_settings())
    handled = set(socket_server.handlers["/"]) - {"connect", "disconnect"}

    assert _operations(document, "receive") == handled
    assert handled == {entry.name for entry in CLIENT_ENTRIES}


# ---------------------------------------------------------------- the document vs a server


async def _login(client: httpx.AsyncClient, user: User) -> User:
    response = await client.post(
        "/auth/login", json={"username": user.username, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return User(id=user.id, username=user.username, token=response.json()["accessToken"])


async def test_every_event_and_ack_of_a_conversation_fits_the_document(
    document: dict[str, Any], client: httpx.AsyncClient, connect: Connect
) -> None:
    check = Validator(document)
    everything: frozenset[str] = frozenset()
    alice, bob, carol = [await register(client, name) for name in ("alice", "bob", "carol")]
    conversation = await create_conversation(client, alice, [bob])
    conversation_id = conversation["id"]
    owner = await connect(alice, everything)
    member = await connect(bob, everything)
    sockets = [owner, member]
    await check.until(owner, "user_status_changed")  # bob came online

    # Rooms, typing.
    ref = {"conversationId": conversation_id}
    assert (await check.call(member, "leave_conversation", ref))["ok"] is True
    assert (await check.call(member, "join_conversation", ref))["ok"] is True
    await check.call(member, "typing_start", ref)
    assert (await check.until(owner, "user_typing"))["isTyping"] is True
    await check.call(member, "typing_stop", ref)
    assert (await check.until(owner, "user_typing"))["isTyping"] is False

    # A message: sent, confirmed, delivered, read, synced.
    sent = await check.call(
        owner,
        "send_message",
        {"conversationId": conversation_id, "content": "hi", "clientMessageId": new_client_id()},
    )
    message_id = sent["message"]["id"]
    await check.until(owner, "message_confirmed")
    await check.until(member, "new_message")
    await check.call(member, "message_delivered", {"messageIds": [message_id]})
    assert (await check.until(owner, "message_delivery_status"))["status"] == "DELIVERED"
    read = await check.call(
        member, "mark_messages_read", {"conversationId": conversation_id, "messageId": message_id}
    )
    assert read["unreadCount"] == 0
    await check.until(owner, "message_read_receipt")
    synced = await check.call(owner, "sync", {"conversationId": conversation_id, "afterSeq": 0})
    assert [m["id"] for m in synced["messages"]] == [message_id]
    scheduled = await check.call(
        owner,
        "send_message",
        {"conversationId": conversation_id, "content": "later", "scheduledAt": at(3600)},
    )
    assert scheduled["scheduledMessage"]["status"] == "SCHEDULED"

    # Errors answer in the ack.
    refused = await check.call(member, "join_conversation", {"conversationId": str(uuid.uuid4())})
    assert refused["error"]["code"] == "CONVERSATION_NOT_FOUND"
    invalid = await check.call(
        owner, "sync", {"conversationId": conversation_id, "afterSeq": -1}, fits=False
    )
    assert invalid["error"]["code"] == "VALIDATION_ERROR"

    # Edits, reactions, deletion.
    url = f"/messages/{message_id}"
    edited = await client.put(url, json={"content": "hi!"}, headers=alice.headers)
    assert edited.status_code == 200, edited.text
    await check.until(member, "message_updated")
    reacted = await client.post(f"{url}/reactions", json={"emoji": "👍"}, headers=bob.headers)
    assert reacted.status_code in (200, 201), reacted.text
    await check.until(owner, "reaction_added")
    unreacted = await client.delete(f"{url}/reactions/👍", headers=bob.headers)
    assert unreacted.status_code in (200, 204), unreacted.text
    await check.until(owner, "reaction_removed")
    deleted = await client.delete(url, headers=alice.headers)
    assert deleted.status_code in (200, 204), deleted.text
    await check.until(member, "message_deleted")

    # Moderation: a flagged text reaches the owner as an alert.
    await send(client, bob, conversation_id, FLAGGED)
    await check.until(owner, "moderation.flagged")

    # The conversation and its members.
    renamed = await client.patch(
        f"/conversations/{conversation_id}", json={"name": "renamed"}, headers=alice.headers
    )
    assert renamed.status_code == 200, renamed.text
    await check.until(member, "conversation_updated")
    assert (await add(client, alice, conversation_id, [carol])).status_code in (200, 201)
    await check.until(member, "participant_added")
    await set_role(client, alice, conversation_id, carol, "MODERATOR")
    await check.until(member, "participant_updated")
    assert (await remove(client, alice, conversation_id, carol)).status_code in (200, 204)
    await check.until(member, "participant_removed")

    # A rate limit: the second send in a minute is refused, and told to the sender's sockets.
    limited = await create_conversation(client, alice, [bob], rateLimit=1)
    await send(client, bob, limited["id"])
    assert_error(await post_message(client, bob, limited["id"]), 429, "RATE_LIMITED")
    await check.until(member, "rate_limit.exceeded")

    # A scheduled message whose sender lost access fails at its time.
    await schedule(client, bob, conversation_id, "too late", at(LEAD_SECONDS))
    assert (await remove(client, alice, conversation_id, bob)).status_code in (200, 204)
    await check.until(member, "message_failed")

    # A revoked session is told before its sockets are closed.
    other_device = await _login(client, alice)
    revoked = await connect(other_device, everything)
    sockets.append(revoked)
    assert (await client.post("/auth/logout", headers=other_device.headers)).status_code == 204
    assert await check.until(revoked, "session_revoked") == {"reason": "LOGGED_OUT"}

    check.rest(sockets)
    # server_shutdown: only a stopping instance sends it (the test below).
    assert check.seen == _operations(document, "send") - {"server_shutdown"}
    assert check.acknowledged == _operations(document, "receive")


async def test_server_shutdown_fits_the_document(
    document: dict[str, Any], client: httpx.AsyncClient, backend_env: dict[str, str]
) -> None:
    """The one event only an instance that is stopping sends (graceful shutdown)."""
    check = Validator(document)
    user = await register(client, "leaving")
    stopping = start_server(backend_env)
    recorder = Recorder()
    try:
        await recorder.client.connect(
            stopping.url, auth={"token": user.token}, transports=["websocket"]
        )
        stopping.process.send_signal(signal.SIGTERM)
        await check.until(recorder, "server_shutdown")
    finally:
        await recorder.close()
        stopping.stop()
