"""The README's curl walkthrough, run as written (bash, curl, jq) against a server of this
run, twice: it works as a newcomer pastes it, again on the same server, and each call answers
the status the README says."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from tests.conftest import ROOT
from tests.support import Server

pytestmark = pytest.mark.skipif(
    shutil.which("jq") is None or shutil.which("curl") is None, reason="needs curl and jq"
)


def _walkthrough() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Try it with curl") :]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match is not None, "the walkthrough's sh block"
    return match.group(1)


def _promised_statuses(script: str) -> list[str]:
    """The statuses the walkthrough's comments promise, in order (`-> HTTP 202`)."""
    return re.findall(r"#\s+-> (HTTP \d{3})", script)


def test_the_walkthrough_runs_twice_with_the_statuses_it_shows(server: Server) -> None:
    script = _walkthrough()
    assert script.startswith("API=http://127.0.0.1:8000\n")
    promised = _promised_statuses(script)
    assert len(promised) >= 6
    # The server of this run instead of make run's; the rest exactly as written.
    runnable = script.replace("API=http://127.0.0.1:8000", f"API={server.url}", 1)
    for run in range(2):
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", runnable],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"run {run + 1}: {result.stderr}\n{result.stdout}"
        shown = re.findall(r"HTTP \d{3}", result.stdout)
        assert shown == promised, f"run {run + 1}:\n{result.stdout}"
        try:
            bodies = re.split(r"^HTTP \d{3}.*$", result.stdout, flags=re.MULTILINE)
            _assert_bodies([body.strip() for body in bodies if body.strip()])
        except (AssertionError, ValueError, KeyError, IndexError) as failure:
            raise AssertionError(f"run {run + 1}:\n{result.stdout}") from failure


def _assert_bodies(bodies: list[str]) -> None:
    """What the comments say of the bodies: Alice's message committed with its mention and
    tag, Bob's unread count 1 and then 0 once read, his answer pending, a mistake's code."""
    sent, listed, read, answered, with_file = (json.loads(body) for body in bodies[:5])
    assert (sent["status"], sent["seq"]) == ("SENT", 1)
    assert sent["metadata"]["hashtags"] == ["launch"] and len(sent["metadata"]["mentions"]) == 1
    assert listed["items"][0]["unreadCount"] == 1
    assert listed["items"][0]["lastMessage"]["id"] == sent["id"]
    assert read["unreadCount"] == 0
    assert (answered["status"], answered["seq"]) == ("PENDING", None)
    assert with_file["status"] == "SENT" and len(with_file["attachments"]) == 1
    assert json.loads(bodies[5])["error"]["code"] == "VALIDATION_ERROR"
