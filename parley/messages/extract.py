"""Mentions, hashtags and URLs found in a message's text (pure functions)."""

from __future__ import annotations

import re

_MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_][A-Za-z0-9_.-]{1,31})")
_TAG = r"\w[\w-]{0,99}"  # what a hashtag is, after its `#`
_HASHTAG = re.compile(rf"(?<![\w#&])#({_TAG})")
_WHOLE_TAG = re.compile(_TAG)
# `http(s)://...`, or a bare `www.host.tld[/...]` that no word, dot, slash or `@` runs into
# (so not the `www.` inside `https://www.`, an e-mail address or `xwww.`).
_URL = re.compile(
    r"\bhttps?://[^\s<>\"'`]+"
    r"|(?<![\w.@/:-])www\.[a-z0-9-]+(?:\.[a-z0-9-]+)+(?:[/?#:][^\s<>\"'`]*)?",
    re.IGNORECASE,
)
_URL_TRAILING = ".,;:!?)]}'\""
MAX_ITEMS = 50


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))[:MAX_ITEMS]


def mentions(text: str) -> list[str]:
    """`@alice`, `@bob.smith` -> lower-cased usernames, in order, without repeats."""
    return _unique(
        [m.rstrip(".-").lower() for m in _MENTION.findall(text) if len(m.rstrip(".-")) >= 3]
    )


def hashtags(text: str) -> list[str]:
    """`#Launch` -> `launch` (tags are case-insensitive), skipping pure numbers like `#1`."""
    return _unique([tag.lower() for tag in _HASHTAG.findall(text) if not tag.isdigit()])


def is_hashtag(name: str) -> bool:
    """`name` (without `#`) is a tag `hashtags` would find: the rule for tags given by hand."""
    return _WHOLE_TAG.fullmatch(name) is not None and not name.isdigit()


def _normalised(url: str) -> str:
    """Without trailing punctuation; a bare `www.` link gains `https://` (what a browser
    typing it would open), so clients link every entry the same way."""
    url = url.rstrip(_URL_TRAILING)
    return url if url[:4].lower() == "http" else "https://" + url


def urls(text: str) -> list[str]:
    """`https://...` and bare `www.` links, in order, without repeats (a `www.` link and the
    same address with `https://` are one entry)."""
    return _unique([_normalised(url) for url in _URL.findall(text)])


def metadata_for(text: str | None) -> dict[str, list[str]]:
    if not text:
        return {"mentions": [], "hashtags": [], "urls": [], "urlPreviews": []}
    return {
        "mentions": mentions(text),
        "hashtags": hashtags(text),
        "urls": urls(text),
        "urlPreviews": [],
    }
