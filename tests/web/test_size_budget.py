"""The build's first-load budget check (web/scripts/check-size.mjs), run by `npm run build`:
it counts the entry chunk and what it imports statically, gzipped, against 200 KB."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "web" / "scripts" / "check-size.mjs"

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")


def _build(folder: Path, chunks: dict[str, bytes], manifest: dict[str, object]) -> Path:
    (folder / "assets").mkdir()
    (folder / ".vite").mkdir()
    for name, content in chunks.items():
        (folder / "assets" / name).write_bytes(content)
    (folder / ".vite" / "manifest.json").write_text(json.dumps(manifest))
    return folder


def _check(dist: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", str(SCRIPT), str(dist)], capture_output=True, text=True, timeout=60
    )


def test_a_small_first_load_passes(tmp_path: Path) -> None:
    dist = _build(
        tmp_path,
        {"index-a.js": b"console.log(1);" * 100},
        {"index.html": {"file": "assets/index-a.js", "isEntry": True}},
    )
    result = _check(dist)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "within the 200 KB budget" in result.stdout


def test_statically_imported_chunks_count_and_lazy_ones_do_not(tmp_path: Path) -> None:
    # Random bytes do not compress: 120 KB each stays about 120 KB gzipped.
    dist = _build(
        tmp_path,
        {
            "index-a.js": b"import './vendor-b.js';",
            "vendor-b.js": os.urandom(120 * 1024),
            "vendor-c.js": os.urandom(120 * 1024),
            "lazy-d.js": os.urandom(120 * 1024),
        },
        {
            "index.html": {
                "file": "assets/index-a.js",
                "isEntry": True,
                "imports": ["_vendor-b.js"],
                "dynamicImports": ["lazy.ts"],
            },
            "_vendor-b.js": {"file": "assets/vendor-b.js", "imports": ["_vendor-c.js"]},
            "_vendor-c.js": {"file": "assets/vendor-c.js"},
            "lazy.ts": {"file": "assets/lazy-d.js", "isDynamicEntry": True},
        },
    )
    result = _check(dist)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "OVER the 200 KB budget" in result.stdout
    assert "lazy-d.js" not in result.stdout
