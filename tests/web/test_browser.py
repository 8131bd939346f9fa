"""The web client end to end in headless Chromium: tests/browser/*.test.mjs (Node's test
runner, playwright-core driving Debian's chromium, axe-core) against this run's server.

`make test-deps` installs chromium and the npm packages (npm ci in tests/browser). The
screens test writes docs/screenshots/*.png (the README shows them)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, own_server
from tests.support import Server

BROWSER_TESTS = ROOT / "tests" / "browser"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# A file takes 5-30 s; a hung browser must not hold the suite for long.
TIMEOUT_S = 180


@pytest.fixture(scope="module")
def browser_server(backend_env: dict[str, str]) -> Iterator[Server]:
    """A server like the session's, but with PREVIEW_ALLOW_PRIVATE=true: link previews reach
    the pages mentions.test.mjs serves on 127.0.0.1 (the SSRF guard refuses loopback
    otherwise). Its own Redis key prefix, so its preview cache and fan-out stay apart."""
    with own_server(backend_env, "browser", {"PREVIEW_ALLOW_PRIVATE": "true"}) as running:
        yield running


@pytest.mark.parametrize(
    "test_file", sorted(path.name for path in BROWSER_TESTS.glob("*.test.mjs"))
)
def test_web_client_in_chromium(browser_server: Server, test_file: str) -> None:
    assert (BROWSER_TESTS / "node_modules" / "playwright-core").is_dir(), (
        "run `make test-deps` (npm ci in tests/browser)"
    )
    assert Path(CHROMIUM).is_file(), f"no chromium at {CHROMIUM}: run `make test-deps`"

    # A session of its own: on a timeout, node's test processes and their browsers go too.
    process = subprocess.Popen(
        ["node", "--test", "--test-reporter=spec", test_file],
        cwd=BROWSER_TESTS,
        env={**os.environ, "PARLEY_URL": browser_server.url, "CHROMIUM": CHROMIUM},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"node --test {test_file} took over {TIMEOUT_S} s:\n{output}")

    assert process.returncode == 0, f"node --test {test_file} failed:\n{output}"
