"""`create_once`: the file embedded mode makes once (JWT secret, encryption key) is the same
for every process or thread that asks at the same moment, and never read half-written."""

from __future__ import annotations

import threading
from pathlib import Path

from parley.core.files import create_once


def test_racing_creators_all_get_the_one_file_content(tmp_path: Path) -> None:
    path = tmp_path / "data" / "secret"
    start = threading.Barrier(16)
    results: list[str] = []

    def make(index: int) -> None:
        start.wait()
        results.append(create_once(path, f"content-{index}"))

    threads = [threading.Thread(target=make, args=(index,)) for index in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1
    assert results[0] == path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["secret"]


def test_an_existing_file_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("first\n")
    assert create_once(path, "second") == "first"
    assert path.read_text() == "first\n"
