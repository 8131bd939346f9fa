"""Mentions, hashtags and URLs found in a message's text (pure functions)."""

from __future__ import annotations

import re

_MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_][A-Za-z0-9_.-]{1,31})")
_HASHTAG = re.compile(r"(?<![\w#&])#(\w[\w-]{0,99})")
_URL = re.compile(r"\bhttps?://[^\s<>\"'`]+", re.IGNORECASE)
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


def urls(text: str) -> list[str]:
    return _unique([url.rstrip(_URL_TRAILING) for url in _URL.findall(text)])


def metadata_for(text: str | None) -> dict[str, list[str]]:
    if not text:
        return {"mentions": [], "hashtags": [], "urls": [], "urlPreviews": []}
    return {
        "mentions": mentions(text),
        "hashtags": hashtags(text),
        "urls": urls(text),
        "urlPreviews": [],
    }
