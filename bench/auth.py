"""Login benchmark: the two figures behind docs/api.md's "Login and registration limits".

1. Known vs unknown username: the time of a failed login for a user that exists and for one
   that does not (both verify an argon2 hash, so they should match).
2. A cheap request during a login storm: `GET /users/me` latency while `--storm` logins are
   in flight (password hashing runs on a bounded pool, so the event loop keeps answering).

The login limits are lifted for the run (the limiter still runs). Prints one table; nothing
is asserted.

    .venv/bin/python -m bench.auth                  # embedded SQLite
    .venv/bin/python -m bench.auth --backend postgres --storm 120
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import time

import httpx

from bench.send import start_server, stop_server

PASSWORD = "benchmark-password"


async def _login_ms(client: httpx.AsyncClient, username: str) -> float:
    started = time.perf_counter()
    response = await client.post(
        "/auth/login", json={"username": username, "password": "not the password"}
    )
    assert response.status_code == 401, response.text
    return (time.perf_counter() - started) * 1000


async def run(url: str, rounds: int, storm: int) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        name = f"bench_{secrets.token_hex(4)}"
        response = await client.post(
            "/auth/register", json={"username": name, "password": PASSWORD}
        )
        response.raise_for_status()
        token = response.json()["accessToken"]
        headers = {"Authorization": f"Bearer {token}"}

        known: list[float] = []
        unknown: list[float] = []
        for _ in range(rounds):  # interleaved, so drifts of the machine hit both alike
            known.append(await _login_ms(client, name))
            unknown.append(await _login_ms(client, f"ghost_{secrets.token_hex(4)}"))

        # Its own client: the storm takes every connection of the first one's pool.
        other = httpx.AsyncClient(base_url=url, timeout=120)

        async def cheap() -> float:
            started = time.perf_counter()
            response = await other.get("/users/me", headers=headers)
            response.raise_for_status()
            return (time.perf_counter() - started) * 1000

        quiet = [await cheap() for _ in range(20)]
        logins = [asyncio.create_task(_login_ms(client, name)) for _ in range(storm)]
        await asyncio.sleep(0.2)  # let the storm reach the server
        during = [await cheap() for _ in range(20)]
        storm_ms = await asyncio.gather(*logins)
        await other.aclose()

    def line(label: str, values: list[float]) -> str:
        return (
            f"{label:<40} median {statistics.median(values):8.1f} ms   "
            f"max {max(values):8.1f} ms   (n={len(values)})"
        )

    print(line("failed login, known username", known))
    print(line("failed login, unknown username", unknown))
    print(line("GET /users/me, quiet", quiet))
    print(line(f"GET /users/me, {storm} logins in flight", during))
    print(line("the storm's logins", list(storm_ms)))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="sqlite")
    parser.add_argument("--rounds", type=int, default=30, help="logins of each kind")
    parser.add_argument("--storm", type=int, default=120, help="concurrent logins")
    args = parser.parse_args()
    os.environ["AUTH_RATE_LIMIT_PER_ACCOUNT"] = "1000000000"
    process, url, cleanup = start_server(args.backend, 1)
    try:
        asyncio.run(run(url, args.rounds, args.storm))
    finally:
        stop_server(process, cleanup)


if __name__ == "__main__":
    main()
