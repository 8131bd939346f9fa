"""What a search string means to each engine, and how a hit's snippet is made safe (pure).

User text never reaches a query language as written: it is cut into words (`\\w+`, so no
operator, quote, colon or star survives), and each word becomes a quoted term of the engine's
own syntax. The last word of at least `PREFIX_MIN_LENGTH` characters also matches longer words,
for results as people type.
"""

from __future__ import annotations

import html
import re

MAX_QUERY_LENGTH = 200
MAX_TERMS = 16
PREFIX_MIN_LENGTH = 3
# Private-use characters the engines put around matches; `snippet_html` turns them into
# `<mark>` after escaping the rest, so no markup of the message itself reaches a client.
MARK_START = "\ue000"
MARK_STOP = "\ue001"

_WORD = re.compile(r"\w+")


def words(query: str) -> list[str]:
    """The words of a query, lower-cased, at most MAX_TERMS (the rest is ignored)."""
    return _WORD.findall(query.lower())[:MAX_TERMS]


def _prefixed(terms: list[str]) -> list[tuple[str, bool]]:
    last = len(terms) - 1
    return [(term, i == last and len(term) >= PREFIX_MIN_LENGTH) for i, term in enumerate(terms)]


def tsquery_text(terms: list[str]) -> str:
    """A `to_tsquery` argument: every word a quoted lexeme, all required, the last one also
    as a prefix. The config still normalises each lexeme (stemming, stop words)."""
    parts = []
    for term, prefix in _prefixed(terms):
        quoted = "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"
        parts.append(quoted + (":*" if prefix else ""))
    return " & ".join(parts)


def fts5_match(terms: list[str]) -> str:
    """An FTS5 MATCH argument: every word a quoted string (so `NEAR`, `AND`, `-`, `:` are
    plain text), all required, the last one also as a prefix."""
    parts = []
    for term, prefix in _prefixed(terms):
        parts.append('"' + term.replace('"', '""') + '"' + ("*" if prefix else ""))
    return " ".join(parts)


def snippet_html(raw: str) -> str:
    """An engine's snippet -> HTML: the text escaped, each match in `<mark>...</mark>`.

    Markers are taken in pairs (a stray one in the message text is dropped), so the output
    is always well formed."""
    out: list[str] = []
    open_mark = False
    start = 0
    for index, char in enumerate(raw):
        if char not in (MARK_START, MARK_STOP):
            continue
        out.append(html.escape(raw[start:index], quote=True))
        start = index + 1
        if char == MARK_START and not open_mark:
            out.append("<mark>")
            open_mark = True
        elif char == MARK_STOP and open_mark:
            out.append("</mark>")
            open_mark = False
    out.append(html.escape(raw[start:], quote=True))
    if open_mark:
        out.append("</mark>")
    return "".join(out)
