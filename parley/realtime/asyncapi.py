"""The Socket.IO events as an AsyncAPI 3.0.0 document, served at `GET /asyncapi.json`.

Built from the catalogues (`catalogue.py`: every server -> client event with its payload model,
every client -> server event with its payload and acknowledgement models) and the models' own
JSON schemas, so the document cannot drift from what the server sends and accepts; the tests
(tests/realtime/test_asyncapi.py) check it against the official AsyncAPI 3.0.0 schema and
against the events a running server emits.

Shape, from the server's point of view: one channel, `socketio` (the default namespace `/`),
carries every event; each server -> client event is a `send` operation, each client -> server
event a `receive` operation whose `reply` is its acknowledgement. Acknowledgements are not
events: they travel on the emit's callback, described by the channel `acknowledgements`
(address null).
"""

from __future__ import annotations

import copy
from functools import cache
from importlib.metadata import version
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from parley.realtime.catalogue import CLIENT_ENTRIES, ENTRIES
from parley.realtime.schemas import ErrorAck

ASYNCAPI_VERSION = "3.0.0"
EVENTS_CHANNEL = "socketio"
ACKS_CHANNEL = "acknowledgements"
ERROR_ACK = "ack.error"
DEFAULT_HOST = "localhost:8000"

_DESCRIPTION = """\
Parley's real-time API: Socket.IO v4 (Engine.IO 4, Socket.IO protocol 5) at the path \
`/socket.io`, default namespace `/`; any socket.io-client v4 connects with \
`io(url, {auth: {token}})`. docs/api.md (Socket.IO) describes every event in prose.

- **Connect.** The access token of `POST /auth/login` goes in the connect packet's \
`auth: {token}` (or an `Authorization: Bearer` header on the handshake). A refused connection \
gets a `connect_error` whose message starts with the reason's code: `UNAUTHORIZED`, \
`INVALID_TOKEN`, `TOKEN_EXPIRED`, `TOO_MANY_CONNECTIONS`, `TOO_MANY_CONNECTIONS_FOR_USER`. \
A socket is disconnected when its token expires or is revoked (`session_revoked` first).
- **Rooms.** On connect a socket joins its user's room and the room of each of the user's \
active conversations; membership changes move it in and out on every instance.
- **Client events** answer through the Socket.IO acknowledgement: `{ok: true, ...}` or \
`{ok: false, error: {code, message, details}}` with the same codes as the REST API.
- **Server events** about stored data leave only after the commit.
- JSON is camelCase, timestamps ISO-8601 UTC with `Z`, ids UUIDs.
"""

_SERVER_DESCRIPTION = """\
The Socket.IO endpoint of a Parley server (the same origin as its HTTP API). Transports: \
websocket, and HTTP long-polling upgraded to websocket. Browsers must come from the same origin \
or one in CORS_ORIGINS."""

_SECURITY_DESCRIPTION = """\
The JWT access token of `POST /auth/login` (or `/auth/register`, `/auth/refresh`), sent in the \
Socket.IO connect packet as `auth: {token}` (`io(url, {auth: {token}})`), or as an \
`Authorization: Bearer <token>` header on the Engine.IO handshake."""

_CONNECT_AUTH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The connect packet's auth payload",
    "properties": {"token": {"type": "string", "description": "The access token (a JWT)"}},
    "required": ["token"],
}


Refs = dict[tuple[Any, JsonSchemaMode], Any]


def _schemas() -> tuple[Refs, dict[str, Any]]:
    """Every payload model's JSON schema, its definitions named under components/schemas."""
    wanted: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {}
    for entry in ENTRIES:
        wanted[(entry.payload, "serialization")] = None
    for client_event in CLIENT_ENTRIES:
        # What the server accepts (validation), and what it answers (serialization).
        wanted[(client_event.payload, "validation")] = None
        for ack in client_event.acks:
            wanted[(ack, "serialization")] = None
    wanted[(ErrorAck, "serialization")] = None
    refs, top = models_json_schema(list(wanted), ref_template="#/components/schemas/{model}")
    return dict(refs), dict(top.get("$defs", {}))


def _payload(refs: Refs, models: tuple[type[BaseModel], ...], mode: JsonSchemaMode) -> Any:
    schemas = [refs[(model, mode)] for model in models]
    return schemas[0] if len(schemas) == 1 else {"oneOf": schemas}


def _message(name: str, summary: str, payload: Any, title: str) -> dict[str, Any]:
    return {
        "name": name,
        "title": title,
        "summary": summary,
        "contentType": "application/json",
        "payload": payload,
    }


def _ref(*path: str) -> dict[str, str]:
    # JSON pointer escapes; event names hold dots, which need none.
    return {"$ref": "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in path)}


@cache
def _document() -> dict[str, Any]:
    refs, schemas = _schemas()
    messages: dict[str, Any] = {}
    event_messages: dict[str, Any] = {}
    ack_messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}

    def operation(key: str, body: dict[str, Any]) -> None:
        if key in operations:
            raise ValueError(f"two socket events are named {key!r}")
        operations[key] = body

    for entry in ENTRIES:
        name = str(entry.name)
        messages[name] = _message(
            name,
            entry.description,
            _payload(refs, (entry.payload,), "serialization"),
            f"{name} (server -> client)",
        )
        event_messages[name] = _ref("components", "messages", name)
        operation(
            name,
            {
                "action": "send",
                "channel": _ref("channels", EVENTS_CHANNEL),
                "messages": [_ref("channels", EVENTS_CHANNEL, "messages", name)],
                "summary": entry.description,
            },
        )

    messages[ERROR_ACK] = _message(
        ERROR_ACK,
        "Any client event's acknowledgement when it failed, with the REST API's error codes.",
        _payload(refs, (ErrorAck,), "serialization"),
        "Error acknowledgement",
    )
    ack_messages[ERROR_ACK] = _ref("components", "messages", ERROR_ACK)
    for client_event in CLIENT_ENTRIES:
        name = client_event.name
        ack = f"ack.{name}"
        messages[name] = _message(
            name,
            client_event.description,
            _payload(refs, (client_event.payload,), "validation"),
            f"{name} (client -> server)",
        )
        messages[ack] = _message(
            ack,
            f"The acknowledgement of `{name}` when it succeeded.",
            _payload(refs, client_event.acks, "serialization"),
            f"{name} acknowledgement",
        )
        event_messages[name] = _ref("components", "messages", name)
        ack_messages[ack] = _ref("components", "messages", ack)
        operation(
            name,
            {
                "action": "receive",
                "channel": _ref("channels", EVENTS_CHANNEL),
                "messages": [_ref("channels", EVENTS_CHANNEL, "messages", name)],
                "summary": client_event.description,
                "reply": {
                    "channel": _ref("channels", ACKS_CHANNEL),
                    "messages": [
                        _ref("channels", ACKS_CHANNEL, "messages", ack),
                        _ref("channels", ACKS_CHANNEL, "messages", ERROR_ACK),
                    ],
                },
            },
        )

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Parley real-time API",
            "version": version("parley"),
            "description": _DESCRIPTION,
        },
        "defaultContentType": "application/json",
        "servers": {},  # filled per request: the host the client asked
        "channels": {
            EVENTS_CHANNEL: {
                "address": "/",
                "title": "Default namespace",
                "description": (
                    "Every Socket.IO event, both ways, on the default namespace. The event name "
                    "is the message's `name`; its payload is the event's one argument."
                ),
                "servers": [_ref("servers", "parley")],
                "messages": event_messages,
            },
            ACKS_CHANNEL: {
                "address": None,
                "title": "Acknowledgements",
                "description": (
                    "Not events: the answers a client event's acknowledgement callback gets "
                    "(`socket.emit(name, payload, ack)`, or `emitWithAck`)."
                ),
                "servers": [_ref("servers", "parley")],
                "messages": ack_messages,
            },
        },
        "operations": operations,
        "components": {
            "schemas": schemas,
            "messages": messages,
            "securitySchemes": {
                "accessToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": _SECURITY_DESCRIPTION,
                }
            },
        },
    }


def asyncapi_document(host: str = DEFAULT_HOST) -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document of the socket events, its server at `host`."""
    document = copy.copy(_document())
    document["servers"] = {
        "parley": {
            "host": host,
            "pathname": "/socket.io",
            "protocol": "socket.io",
            "protocolVersion": "5",
            "title": "Parley",
            "description": _SERVER_DESCRIPTION,
            "security": [_ref("components", "securitySchemes", "accessToken")],
            "x-connect-auth": _CONNECT_AUTH_SCHEMA,
        }
    }
    return document


router = APIRouter()


@router.get("/asyncapi.json", include_in_schema=False)
async def asyncapi_json(request: Request) -> JSONResponse:
    """The Socket.IO events, AsyncAPI 3.0.0 (docs/api.md, Socket.IO)."""
    return JSONResponse(asyncapi_document(request.headers.get("host") or DEFAULT_HOST))
