"""A page's preview from its HTML: OpenGraph first, then the Twitter card, then the plain
`<title>` and `<meta name=description>` (pure functions)."""

from __future__ import annotations

import codecs
import re
import unicodedata

import httpx
from selectolax.lexbor import LexborHTMLParser

from parley.messages.schemas import LinkPreview
from parley.previews.policy import scheme_permitted

MAX_TITLE = 300
MAX_DESCRIPTION = 1000
MAX_SITE_NAME = 100
MAX_URL = 2048

# Where a page says what it is, in order of preference.
_TITLE_KEYS = ("og:title", "twitter:title")
_DESCRIPTION_KEYS = ("og:description", "twitter:description", "description")
_IMAGE_KEYS = (
    "og:image",
    "og:image:url",
    "og:image:secure_url",
    "twitter:image",
    "twitter:image:src",
)
_SITE_NAME_KEYS = ("og:site_name", "application-name")

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
# Bidirectional overrides and isolates: a title could reorder the text around it.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
_SPACES = re.compile(r"\s+")


def decode(body: bytes, charset: str | None) -> str:
    """The page's text: the header's charset, else a `<meta charset>` near the top, else
    UTF-8; undecodable bytes become U+FFFD."""
    for candidate in (charset, _meta_charset(body[:2048])):
        if candidate:
            try:
                return body.decode(codecs.lookup(candidate).name, errors="replace")
            except LookupError:
                continue
    return body.decode("utf-8", errors="replace")


def _meta_charset(head: bytes) -> str | None:
    match = _META_CHARSET.search(head)
    return match.group(1).decode("ascii") if match else None


def clean(text: str | None, limit: int) -> str | None:
    """Printable text on one line, at most `limit` characters; None when nothing is left."""
    if not text:
        return None
    kept = "".join(
        (" " if char.isspace() else "") if unicodedata.category(char) == "Cc" else char
        for char in text
        if char not in _BIDI_CONTROLS
    )
    kept = _SPACES.sub(" ", kept).strip()
    return kept[:limit].rstrip() or None


def absolute_http_url(base: str, reference: str | None) -> str | None:
    """`reference` resolved against the page's final URL, if it is http(s) and not too long."""
    if not reference:
        return None
    try:
        resolved = httpx.URL(base).join(reference.strip())
    except (httpx.InvalidURL, ValueError, UnicodeError):
        return None
    text = str(resolved)
    if not scheme_permitted(resolved.scheme) or not resolved.host or len(text) > MAX_URL:
        return None
    return text


def _meta_values(parser: LexborHTMLParser) -> dict[str, str]:
    """`<meta property|name=key content=value>`, the first of each key, keys lower-case."""
    values: dict[str, str] = {}
    for node in parser.css("meta"):
        attributes = node.attributes
        key = attributes.get("property") or attributes.get("name")
        content = attributes.get("content")
        if key and content:
            values.setdefault(key.strip().lower(), content)
    return values


def _first(values: dict[str, str], keys: tuple[str, ...]) -> str | None:
    return next((values[key] for key in keys if values.get(key)), None)


def preview_from_html(html: str, *, url: str, final_url: str) -> LinkPreview | None:
    """The preview of the page at `url` (fetched from `final_url` after redirects), or None
    when it names neither a title, a description nor an image."""
    parser = LexborHTMLParser(html)
    values = _meta_values(parser)
    title_node = parser.css_first("title")
    title = clean(
        _first(values, _TITLE_KEYS) or (title_node.text() if title_node else None), MAX_TITLE
    )
    description = clean(_first(values, _DESCRIPTION_KEYS), MAX_DESCRIPTION)
    image_url = absolute_http_url(final_url, clean(_first(values, _IMAGE_KEYS), MAX_URL))
    if title is None and description is None and image_url is None:
        return None
    return LinkPreview(
        url=url,
        title=title,
        description=description,
        image_url=image_url,
        site_name=clean(_first(values, _SITE_NAME_KEYS), MAX_SITE_NAME),
    )
