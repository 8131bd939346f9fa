"""W1's bare python-socketio server (bench/w1.py): python-socketio on uvicorn, both with their
default settings, storing nothing and checking nothing.

A socket joins the room named by its handshake's `auth.conversationId`; each `send_message`
is broadcast to that room as `new_message` (the sender's socket included, as Parley's
conversation room does) and acknowledged with `{ok, message}`. The reference that Parley's
W1 throughput is divided by.

    .venv/bin/python bench/w1_bare_server.py PORT
"""

from __future__ import annotations

import argparse
import itertools
from typing import Any

import socketio
import uvicorn

server = socketio.AsyncServer(async_mode="asgi")
app = socketio.ASGIApp(server)
_ids = itertools.count(1)


async def connect(sid: str, _environ: dict[str, Any], auth: Any = None) -> None:
    room = auth.get("conversationId", "w1") if isinstance(auth, dict) else "w1"
    await server.enter_room(sid, str(room))


async def send_message(_sid: str, data: dict[str, Any]) -> dict[str, Any]:
    message = {
        "id": str(next(_ids)),
        "conversationId": data.get("conversationId"),
        "content": data.get("content"),
        "clientMessageId": data.get("clientMessageId"),
        "status": "SENT",
    }
    await server.emit("new_message", {"message": message}, room=str(data.get("conversationId")))
    return {"ok": True, "message": message}


server.on("connect", connect)
server.on("send_message", send_message)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("port", type=int)
    args = parser.parse_args()
    # Defaults throughout; only the access log is quietened (it logs nothing for websockets).
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
