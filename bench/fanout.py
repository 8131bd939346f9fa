"""Socket delivery benchmark: time from a REST send to `new_message` on every member's socket.

Starts `parley serve` on a fresh PostgreSQL database (or the embedded SQLite), makes one group
conversation of `--members` users, connects one python-socketio client per member (websocket
transport), then sends `--messages` messages from one member, `--rate` per second, and times
each delivery. Latency is measured from the moment the send request starts, so it includes the
ack, the group commit and the fan-out; the 202 ack latency of the same sends is the reference.
Also prints the server's CPU time per message over the sending phase (its process only; the
clients run on the same machine). Prints one table; nothing is asserted.

    .venv/bin/python -m bench.fanout
    .venv/bin/python -m bench.fanout --members 50 --messages 300 --rate 50
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import time
from pathlib import Path

import httpx
import socketio

from bench.send import start_server, stop_server


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(url: str, pid: int, members: int, messages: int, rate: float) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        users = []
        for index in range(members):
            response = await client.post(
                "/auth/register",
                json={"username": f"fan{index}_{secrets.token_hex(3)}", "password": "benchmark-pw"},
            )
            response.raise_for_status()
            users.append(response.json())
        sender = users[0]
        headers = {"Authorization": f"Bearer {sender['accessToken']}"}
        response = await client.post(
            "/conversations",
            json={
                "type": "GROUP",
                "name": "fanout",
                "rateLimit": 10000,
                "participantIds": [u["user"]["id"] for u in users[1:]],
            },
            headers=headers,
        )
        response.raise_for_status()
        conversation_id = response.json()["id"]

        started_at: dict[str, float] = {}
        delivered: list[float] = []
        done = asyncio.Event()
        expected = messages * (members - 1)
        sockets = []
        for user in users[1:]:
            socket = socketio.AsyncClient(reconnection=False)

            async def on_message(data: dict, _socket: socketio.AsyncClient = socket) -> None:  # type: ignore[type-arg]
                started = started_at.get(data["message"]["id"])
                if started is not None:
                    delivered.append((time.perf_counter() - started) * 1000)
                    if len(delivered) >= expected:
                        done.set()

            socket.on("new_message", on_message)
            await socket.connect(url, auth={"token": user["accessToken"]}, transports=["websocket"])
            sockets.append(socket)

        acks: list[float] = []
        cpu_before = _cpu_seconds(pid)
        began = time.perf_counter()
        for index in range(messages):
            started = time.perf_counter()
            response = await client.post(
                "/messages",
                headers=headers,
                json={"conversationId": conversation_id, "content": f"fan-out {index}"},
            )
            response.raise_for_status()
            started_at[response.json()["id"]] = started
            acks.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(max(0.0, began + (index + 1) / rate - time.perf_counter()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 60)
        cpu_ms_per_message = (_cpu_seconds(pid) - cpu_before) * 1000 / messages
        for socket in sockets:
            await socket.disconnect()

    print(
        f"\nParley socket delivery benchmark: members={members}, messages={messages}, "
        f"rate={rate}/s, cpus={os.cpu_count()} (clients on the same machine)"
    )
    print(f"{'measure':<40}{'count':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for name, values in (
        ("202 ack (reference)", acks),
        ("send -> new_message on each socket", delivered),
    ):
        print(
            f"{name:<40}{len(values):>8}{_percentile(values, 0.5):>9.1f}"
            f"{_percentile(values, 0.99):>9.1f}{max(values):>9.1f}"
        )
    print(f"deliveries: {len(delivered)} of {expected} expected")
    print(f"server CPU: {cpu_ms_per_message:.2f} ms per message")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--members", type=int, default=20)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0, help="sends per second")
    args = parser.parse_args()
    process, url, cleanup = start_server(args.backend, 1)
    try:
        asyncio.run(run(url, process.pid, args.members, args.messages, args.rate))
    finally:
        stop_server(process, cleanup)


if __name__ == "__main__":
    main()
