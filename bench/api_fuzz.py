"""Schemathesis over /openapi.json (issue 15): a fresh `parley serve`, a registered user's
token on every request, `--checks all` for `--seconds`; then the server log's unhandled
errors. Prints schemathesis' summary and writes its reports to bench/out/api-fuzz/.

Schemathesis runs from its own virtualenv (`.venv-schemathesis`, pinned by
bench/schemathesis.lock; `make bench-api-fuzz` makes it): in the project's .venv its pytest
plugin would load into every test run and its pins (pytest, werkzeug, requests) would bind the
suite's.

Operations that end the token's session (`/auth/logout`, `/auth/logout-all`, `/auth/refresh`,
`/users/me/password`, `DELETE /users/me`) are left out: one lucky request would turn the rest of
the run into 401s. The rate limits are lifted (their 429s are documented; they would hide the
operations behind them).

    .venv/bin/python -m bench.api_fuzz                       # PostgreSQL + Redis, 300 s
    .venv/bin/python -m bench.api_fuzz --backend sqlite --seconds 60
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import httpx

from bench.send import ROOT, start_server, stop_server

SCHEMATHESIS = ROOT / ".venv-schemathesis" / "bin" / "schemathesis"
OUT = ROOT / "bench" / "out" / "api-fuzz"
EXCLUDED = r"^/auth/(logout|logout-all|refresh)$|^/users/me/password$"
LIFTED = {
    name: "1000000000"
    for name in (
        "RATE_LIMIT_MESSAGES",
        "RATE_LIMIT_EDITS",
        "RATE_LIMIT_REACTIONS",
        "RATE_LIMIT_REPORTS_PER_HOUR",
        "RATE_LIMIT_UPLOADS_PER_HOUR",
        "RATE_LIMIT_EXPORTS_PER_HOUR",
        "AUTH_RATE_LIMIT_PER_ACCOUNT",
    )
}


def _token(url: str) -> str:
    response = httpx.post(
        url + "/auth/register",
        json={"username": f"fuzz_{secrets.token_hex(4)}", "password": secrets.token_urlsafe(16)},
        timeout=30,
    )
    response.raise_for_status()
    return str(response.json()["accessToken"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--seconds", type=int, default=300)
    parser.add_argument("--workers", default="2")
    parser.add_argument("--cpus", default="", help="taskset CPU list for the server, e.g. 0")
    args = parser.parse_args()
    if not SCHEMATHESIS.exists():
        sys.exit(f"{SCHEMATHESIS} is missing: run `make bench-api-fuzz` (it makes the venv)")
    prefix = ["taskset", "-c", args.cpus] if args.cpus else []
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    log_path = OUT / "server.log"
    # The server inherits stdout and stderr: point them at its log while it starts.
    saved = os.dup(1), os.dup(2)
    with log_path.open("wb") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            process, url, cleanup = start_server(
                args.backend, 1, command_prefix=prefix, extra_env={**LIFTED, "LOG_LEVEL": "ERROR"}
            )
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
    try:
        token = _token(url)
        command = [
            str(SCHEMATHESIS),
            "run",
            f"{url}/openapi.json",
            "--checks",
            "all",
            "--max-time",
            str(args.seconds),
            "--workers",
            args.workers,
            "--header",
            f"Authorization: Bearer {token}",
            "--exclude-path-regex",
            EXCLUDED,
            "--exclude-operation-id",
            "erase_me_users_me_delete",
            "--report",
            "junit,ndjson",
            "--report-dir",
            str(OUT),
            "--output-truncate",
            "true",
        ]
        # Its cache (.schemathesis/) goes beside the reports.
        result = subprocess.run(command, cwd=OUT, check=False)
        print(f"schemathesis exit code {result.returncode}; reports in {OUT}")
    finally:
        stop_server(process, cleanup)
        _summarize_log(log_path)


def _summarize_log(log_path: Path) -> None:
    if not log_path.exists():
        return
    errors: dict[str, int] = {}
    for line in log_path.read_text(errors="replace").splitlines():
        if "unhandled error" in line or "Traceback" in line:
            try:
                record = json.loads(line)
                key = f"{record.get('message')} {record.get('exc_info', '')[-200:]}"
            except json.JSONDecodeError:
                key = re.sub(r"\s+", " ", line)[-200:]
            errors[key] = errors.get(key, 0) + 1
    print(f"server log: {sum(errors.values())} unhandled errors")
    for key, count in sorted(errors.items(), key=lambda item: -item[1]):
        print(f"  {count:5d}  {key}")


if __name__ == "__main__":
    main()
