"""Headers of the HTML pages this server serves (the web client, /docs and /redoc)."""

from __future__ import annotations

# What no page of this server allows, whatever its own sources.
_EVERY_PAGE = (
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
    "form-action 'self'",
)


def page_headers(*sources: str) -> dict[str, str]:
    """A page's headers: revalidated on every load, and a Content-Security-Policy of its own
    `sources` plus what every page forbids."""
    return {
        "Cache-Control": "no-cache",
        "Content-Security-Policy": "; ".join([*sources, *_EVERY_PAGE]),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
