"""Fetching one link for its preview, within the limits of docs/api.md (Link previews).

One time budget for the whole fetch (every redirect hop and the body), redirects followed by
hand so each hop's scheme is checked here and its address by the transport, only HTML read,
and never more than MAX_BODY_BYTES of it: the body is streamed and the fetch stops there.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from enum import StrEnum

import httpx

from parley.messages.schemas import LinkPreview
from parley.previews.parse import decode, preview_from_html
from parley.previews.policy import AddressPolicy, scheme_permitted
from parley.previews.transport import AddressRefused, GuardedTransport

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
MAX_REDIRECTS = 5
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
USER_AGENT = "Mozilla/5.0 (compatible; ParleyLinkPreview/0.1; link previews of a Parley server)"


class Outcome(StrEnum):
    """How one link's preview lookup ended (the `outcome` label of parley_link_previews)."""

    FETCHED = "fetched"
    CACHED = "cached"
    REFUSED_ADDRESS = "refused_address"
    REFUSED_SCHEME = "refused_scheme"
    TOO_LARGE = "too_large"
    TIMEOUT = "timeout"
    ERROR = "error"
    NOT_HTML = "not_html"


@dataclass(frozen=True)
class Fetched:
    outcome: Outcome
    preview: LinkPreview | None = None


class TooLarge(Exception):
    """The body passed MAX_BODY_BYTES."""


class Fetcher:
    """One httpx client for the process's previews: no proxies or netrc from the environment,
    no automatic redirects, every connection through the guarded transport."""

    def __init__(self, policy: AddressPolicy, timeout_seconds: float) -> None:
        self._timeout = timeout_seconds
        self._client = httpx.AsyncClient(
            transport=GuardedTransport(policy),
            trust_env=False,
            follow_redirects=False,
            timeout=httpx.Timeout(timeout_seconds),
            headers={
                "User-Agent": USER_AGENT,
                "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
                # Bodies are counted as they arrive: a compressed one could expand far past
                # the cap inside one chunk.
                "Accept-Encoding": "identity",
            },
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def fetch(self, url: str) -> Fetched:
        """The preview of `url`, or why there is none; never raises for what a page does."""
        try:
            async with asyncio.timeout(self._timeout):
                return await self._follow(url)
        except (TimeoutError, httpx.TimeoutException):
            return Fetched(Outcome.TIMEOUT)
        except AddressRefused:
            return Fetched(Outcome.REFUSED_ADDRESS)
        except TooLarge:
            return Fetched(Outcome.TOO_LARGE)
        except (httpx.HTTPError, httpx.InvalidURL, OSError, UnicodeError, ValueError) as error:
            # The error's type only: its text can carry the URL.
            log.info("link preview failed", extra={"error": type(error).__name__})
            return Fetched(Outcome.ERROR)
        except Exception as error:  # what a page does must never stop the worker
            log.warning("link preview failed unexpectedly", extra={"error": type(error).__name__})
            return Fetched(Outcome.ERROR)

    async def _follow(self, url: str) -> Fetched:
        target = httpx.URL(url)
        for _ in range(MAX_REDIRECTS + 1):
            if not scheme_permitted(target.scheme) or not target.host:
                return Fetched(Outcome.REFUSED_SCHEME)
            async with self._client.stream("GET", target) as response:
                if response.is_redirect:
                    target = target.join(response.headers["location"])
                    continue
                if not response.is_success:
                    return Fetched(Outcome.ERROR)
                media_type = response.headers.get("content-type", "").split(";")[0]
                if media_type.strip().lower() not in HTML_TYPES:
                    return Fetched(Outcome.NOT_HTML)
                encoding = response.headers.get("content-encoding", "identity").strip().lower()
                if encoding not in ("", "identity"):
                    return Fetched(Outcome.ERROR)
                body = await _read_capped(response)
                html = decode(body, response.charset_encoding)
                preview = preview_from_html(html, url=url, final_url=str(target))
                return Fetched(Outcome.FETCHED, preview)
        return Fetched(Outcome.ERROR)  # more than MAX_REDIRECTS redirects


async def _read_capped(response: httpx.Response) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise TooLarge()
    body = bytearray()
    async for chunk in response.aiter_raw():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise TooLarge()  # leaving the stream closes the connection: no more is read
    return bytes(body)
