"""The web client finds mentions, hashtags and links by the server's rules: its
web/src/chat/richText.ts (built with the client's esbuild, run in Node) against
parley/messages/extract.py on the same texts."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from parley.messages import extract
from tests.conftest import ROOT

WEB = ROOT / "web"
ESBUILD = WEB / "node_modules" / ".bin" / "esbuild"

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js")

TEXTS = [
    "Hi @bob.",
    "@bob-- and @al @alice_x.y. @ab @abc @abc.",
    "a@b.com @@carol mail bob@example.com @éve @Bob",
    "#tag #1 #1st #Ünïcödé-x #tag#two ##dbl x#no &#39; #ok- #-x #_x #x_ a_#b c-#d é#e",
    "see https://x.com/a_(b). and www.python.org/path?q=1, then (https://e.com)",
    "foo.www.bar.com xwww.no.com WWW.Python.Org HTTPS://UP.COM/x! 'https://q.org/x'",
]

# Each text's parts as the client finds them: what it would highlight and link.
SCRIPT = """
import { splitText } from "./richText.mjs";
const texts = JSON.parse(process.argv[2]);
const unique = (values) => [...new Set(values)];
console.log(JSON.stringify(texts.map((text) => {
  const parts = splitText(text, () => ({ user: undefined, me: false }), () => true);
  const of = (kind, key) => unique(parts.filter((p) => p.kind === kind).map((p) => p[key]));
  return {
    mentions: of("mention", "username"),
    hashtags: of("hashtag", "tag"),
    urls: of("link", "href"),
    whole: parts.map((p) => p.text).join("") === text,
  };
})));
"""


def _client_parts(tmp_path: Path, texts: list[str]) -> list[dict[str, object]]:
    assert ESBUILD.is_file(), "run `make install` (npm ci in web)"
    subprocess.run(
        [str(ESBUILD), "src/chat/richText.ts", "--format=esm", "--log-level=error",
         f"--outfile={tmp_path / 'richText.mjs'}"],
        cwd=WEB, check=True, timeout=60,
    )  # fmt: skip
    (tmp_path / "run.mjs").write_text(SCRIPT)
    answer = subprocess.run(
        ["node", str(tmp_path / "run.mjs"), json.dumps(texts)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    parts: list[dict[str, object]] = json.loads(answer.stdout)
    return parts


def test_the_client_finds_what_the_server_extracts(tmp_path: Path) -> None:
    for text, found in zip(TEXTS, _client_parts(tmp_path, TEXTS), strict=True):
        assert found == {
            "mentions": extract.mentions(text),
            "hashtags": extract.hashtags(text),
            "urls": extract.urls(text),
            "whole": True,
        }, text


def test_a_link_wins_over_a_mention_or_tag_inside_it(tmp_path: Path) -> None:
    text = "https://mastodon.social/@bob/#top"
    [found] = _client_parts(tmp_path, [text])
    assert extract.mentions(text) == ["bob"]
    assert extract.hashtags(text) == ["top"]
    assert found == {"mentions": [], "hashtags": [], "urls": [text], "whole": True}
