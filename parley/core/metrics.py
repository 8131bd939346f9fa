"""Every Prometheus metric Parley exports, defined once (docs/api.md, Metrics).

Domains import the children bound below (`.labels(...)` runs once, at import), so the hot path
pays one add or one histogram observe and never formats a label. Values that are cheaper to
read than to track (the committer's backlog, the database pool) are read by samplers just
before a scrape and once a second (`sample_periodically`), which keeps the other workers'
figures fresh in multiprocess mode.

Multiprocess mode: `parley serve --workers N` points PROMETHEUS_MULTIPROC_DIR at a fresh
directory before the workers start; each worker writes its values there and a scrape
aggregates them (gauges of workers that died are dropped: `mark_dead_workers`).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

log = logging.getLogger(__name__)

# The `_created` series (a timestamp per child) double the output and no dashboard reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

MULTIPROC_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Seconds; dense around the targets (ack < 20 ms, delivery < 30 ms), sparse up to backlogs.
LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)

HTTP_REQUEST_SECONDS = Histogram(
    "parley_http_request_duration_seconds",
    "HTTP request latency by route template, method and status class",
    ["route", "method", "status"],
    buckets=LATENCY_BUCKETS,
)
SEND_ACK_SECONDS = Histogram(
    "parley_send_ack_seconds",
    "From a send reaching its handler to its acknowledgement (202, or 200 for a retry)",
    ["transport"],
    buckets=LATENCY_BUCKETS,
)
SEND_COMMIT_SECONDS = Histogram(
    "parley_send_commit_seconds",
    "From a send's acceptance to its durable commit",
    buckets=LATENCY_BUCKETS,
)
SEND_DELIVERY_SECONDS = Histogram(
    "parley_send_delivery_seconds",
    "From a send's acceptance to new_message handed to the conversation's room",
    buckets=LATENCY_BUCKETS,
)
SENDS = Counter(
    "parley_sends",
    "Sends by outcome: accepted (acked), refused (pipeline full), committed, failed",
    ["outcome"],
)
PIPELINE_BACKLOG = Gauge(
    "parley_pipeline_backlog",
    "Sends accepted but not yet committed",
    multiprocess_mode="livesum",
)
PIPELINE_OLDEST_SECONDS = Gauge(
    "parley_pipeline_oldest_pending_seconds",
    "Age of the oldest send accepted but not yet committed (0 when none)",
    multiprocess_mode="livemax",
)
SOCKETS_CONNECTED = Gauge(
    "parley_sockets_connected",
    "Socket.IO connections admitted and open",
    multiprocess_mode="livesum",
)
CACHE_HITS = Counter(
    "parley_cache_hits", "Cache lookups answered from the cache", ["cache", "backend"]
)
CACHE_MISSES = Counter(
    "parley_cache_misses", "Cache lookups that went to the source", ["cache", "backend"]
)
DB_POOL_CONNECTIONS = Gauge(
    "parley_db_pool_connections",
    "Database pool: connections checked out, and the pool's size (overflow excluded)",
    ["state"],
    multiprocess_mode="livesum",
)
REDIS_ROUND_TRIPS = Counter(
    "parley_redis_round_trips",
    "Commands or pipelines sent to Redis (one network round trip each)",
    ["client"],
)
RATE_LIMIT_REFUSALS = Counter(
    "parley_rate_limit_refusals", "Actions refused by a rate limit, by limit", ["limit"]
)
MODERATION_FLAGS = Counter(
    "parley_moderation_flags",
    "Texts the screening flagged, by outcome (flagged: delivered and queued; held)",
    ["outcome"],
)
NOTIFICATION_MESSAGES = Counter(
    "parley_notifications_messages",
    "Committed messages offered to the notifier, by outcome (queued; dropped: its queue was full)",
    ["outcome"],
)
NOTIFICATION_ITEMS = Counter(
    "parley_notifications_items",
    "(message, recipient) pairs added to a recipient's batching window",
)
NOTIFICATION_DELIVERIES = Counter(
    "parley_notifications_deliveries",
    "Webhook deliveries by outcome: delivered, retried (an attempt to be repeated), failed "
    "(given up: attempts exhausted or refused with a 4xx)",
    ["outcome"],
)
NOTIFICATION_DELIVERY_SECONDS = Histogram(
    "parley_notifications_delivery_seconds",
    "From a window's flush to the webhook's 2xx answer (retries included)",
    buckets=LATENCY_BUCKETS,
)
NOTIFICATION_BACKLOG = Gauge(
    "parley_notifications_backlog",
    "Committed messages waiting for the notifier to resolve their recipients",
    multiprocess_mode="livesum",
)
LINK_PREVIEWS = Counter(
    "parley_link_previews",
    "Link preview lookups per URL by outcome (fetched, cached, refused_address, "
    "refused_scheme, too_large, timeout, error, not_html)",
    ["outcome"],
)
LINK_PREVIEW_MESSAGES = Counter(
    "parley_link_preview_messages",
    "Messages with links seen by the preview worker, by result (previewed, none, "
    "skipped_encrypted, skipped_held, skipped_disabled, skipped_gone, dropped)",
    ["result"],
)
DB_READS = Counter(
    "parley_db_reads",
    "Reads that may go to the read replica (history, search, analytics, export), by where "
    "they went (target: replica, primary) and why (reason: fresh; own_write, lag, down, "
    "replica_error, not_found); counted only with DATABASE_READ_URL",
    ["target", "reason"],
)
DB_REPLICA_UP = Gauge(
    "parley_db_replica_up",
    "1 while the read replica answers its probes (0 also without DATABASE_READ_URL)",
    multiprocess_mode="livemin",
)
DB_REPLICA_LAG = Gauge(
    "parley_db_replica_lag_seconds",
    "How far the read replica's replay is behind the primary, as of its last probe",
    multiprocess_mode="livemax",
)

WORKER_UP = Gauge(
    "parley_worker_up",
    "1 while this process serves (with --workers, one series per worker, labelled by pid)",
    multiprocess_mode="liveall",
)

# Bound once: the hot path uses these.
ACK_REST = SEND_ACK_SECONDS.labels("rest")
ACK_SOCKET = SEND_ACK_SECONDS.labels("socket")
SENDS_ACCEPTED = SENDS.labels("accepted")
SENDS_REFUSED = SENDS.labels("refused")
SENDS_COMMITTED = SENDS.labels("committed")
SENDS_FAILED = SENDS.labels("failed")
DB_POOL_CHECKED_OUT = DB_POOL_CONNECTIONS.labels("checked_out")
DB_POOL_SIZE = DB_POOL_CONNECTIONS.labels("size")
MODERATION_FLAGGED = MODERATION_FLAGS.labels("flagged")
MODERATION_HELD = MODERATION_FLAGS.labels("held")
NOTIFICATIONS_QUEUED = NOTIFICATION_MESSAGES.labels("queued")
NOTIFICATIONS_DROPPED = NOTIFICATION_MESSAGES.labels("dropped")
NOTIFICATIONS_DELIVERED = NOTIFICATION_DELIVERIES.labels("delivered")
NOTIFICATIONS_RETRIED = NOTIFICATION_DELIVERIES.labels("retried")
NOTIFICATIONS_FAILED = NOTIFICATION_DELIVERIES.labels("failed")
DB_READS_REPLICA = DB_READS.labels("replica", "fresh")
DB_READ_PRIMARY_REASONS = ("own_write", "lag", "down", "replica_error", "not_found")
_reads_on_primary = {
    reason: DB_READS.labels("primary", reason) for reason in DB_READ_PRIMARY_REASONS
}
RATE_LIMITS = (
    "conversation",
    "user",
    "edits",
    "reactions",
    "report",
    "auth_account",
    "auth_address",
)
_refusals = {name: RATE_LIMIT_REFUSALS.labels(name) for name in RATE_LIMITS}
for _client in ("app", "socketio"):
    REDIS_ROUND_TRIPS.labels(_client)
PREVIEW_OUTCOMES = (
    "fetched",
    "cached",
    "refused_address",
    "refused_scheme",
    "too_large",
    "timeout",
    "error",
    "not_html",
)
PREVIEW_MESSAGE_RESULTS = (
    "previewed",
    "none",
    "skipped_encrypted",
    "skipped_held",
    "skipped_disabled",
    "skipped_gone",
    "dropped",
)
# Shown at zero before the first link (and bound once: the worker counts per URL).
PREVIEW_OUTCOME = {name: LINK_PREVIEWS.labels(name) for name in PREVIEW_OUTCOMES}
PREVIEW_MESSAGE_RESULT = {
    name: LINK_PREVIEW_MESSAGES.labels(name) for name in PREVIEW_MESSAGE_RESULTS
}


def db_read_on_primary(reason: str) -> None:
    """Count one replica-eligible read served by the primary, and why (DB_READ_PRIMARY_REASONS)."""
    _reads_on_primary[reason].inc()


def rate_limit_refused(limit: str) -> None:
    """Count one refusal by the limit `limit` (one of RATE_LIMITS)."""
    child = _refusals.get(limit)
    if child is None:
        child = _refusals[limit] = RATE_LIMIT_REFUSALS.labels(limit)
    child.inc()


class CacheLayerCounters:
    """Hit and miss children of one cache backend, bound per layer (a key's prefix up to its
    first colon: `user:...` is the layer `user`) on first sight."""

    def __init__(self, backend: str, layers: tuple[str, ...] = ()) -> None:
        self._backend = backend
        self._children: dict[str, tuple[Counter, Counter]] = {}
        for layer in layers:
            self.layer(layer)

    def layer(self, name: str) -> tuple[Counter, Counter]:
        children = self._children.get(name)
        if children is None:
            children = self._children[name] = (
                CACHE_HITS.labels(name, self._backend),
                CACHE_MISSES.labels(name, self._backend),
            )
        return children

    def hit(self, key: str) -> None:
        self.layer(key.partition(":")[0])[0].inc()

    def miss(self, key: str) -> None:
        self.layer(key.partition(":")[0])[1].inc()


# The cache layers Parley keys today (shown at zero before their first lookup).
CACHE_LAYERS = (
    "user",
    "revoked-token",
    "deny-list",
    "conversation",
    "member",
    "user-conversations",
    "sent",
    "preview",
    "wrote",
)

_STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
_http_children: dict[tuple[str, str, int], Histogram] = {}


def http_request(route: str, method: str, status: int, seconds: float) -> None:
    """Observe one request; `route` is the matched path template (`unmatched` for a 404)."""
    key = (route, method, status // 100)
    child = _http_children.get(key)
    if child is None:
        status_class = _STATUS_CLASSES[key[2] - 1] if 1 <= key[2] <= 5 else "5xx"
        child = _http_children[key] = HTTP_REQUEST_SECONDS.labels(
            route, method if method in _METHODS else "OTHER", status_class
        )
    child.observe(seconds)


# Samplers: read the values that are cheaper to read than to track.
_samplers: list[Callable[[], None]] = []


def add_sampler(sampler: Callable[[], None]) -> Callable[[], None]:
    """Run `sampler` before each scrape and once a second; returns its remover."""
    _samplers.append(sampler)
    return lambda: _samplers.remove(sampler) if sampler in _samplers else None


def sample() -> None:
    for sampler in list(_samplers):
        try:
            sampler()
        except Exception:  # a metric must never break what it measures
            log.exception("metrics sampler failed")


async def sample_periodically(interval_seconds: float = 1.0) -> None:
    while True:
        sample()
        await asyncio.sleep(interval_seconds)


# Exposition.
_PID_FILE = re.compile(r"^gauge_live\w+?_(\d+)\.db$")


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_DIR_ENV) or None


def mark_dead_workers(directory: str) -> None:
    """Drop the live gauges of worker processes that are gone (killed, restarted)."""
    for path in Path(directory).glob("gauge_live*.db"):
        match = _PID_FILE.match(path.name)
        if match is None:
            continue
        pid = int(match.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
        except PermissionError:
            pass  # alive, under another user


def worker_exiting() -> None:
    """In multiprocess mode, drop this worker's live gauges as it stops."""
    directory = multiprocess_dir()
    if directory is not None:
        multiprocess.mark_process_dead(os.getpid(), directory)  # type: ignore[no-untyped-call]


def exposition(*, sample_here: bool = True) -> bytes:
    """The text format of every metric: this process's, or all workers' in multiprocess mode.
    `sample_here` runs the samplers first (only on the event loop's thread)."""
    if sample_here:
        sample()
    directory = multiprocess_dir()
    if directory is None:
        return generate_latest(REGISTRY)
    mark_dead_workers(directory)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


# The 0.0.4 text format, which every Prometheus version reads (Parley's names and labels
# need none of 1.0.0's escaping).
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4


def authorized(header: str | None, token: str | None) -> bool:
    """No token configured: open. Otherwise `Authorization: Bearer <token>`, compared in
    constant time."""
    if token is None:
        return True
    if header is None:
        return False
    scheme, _, value = header.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        value.strip().encode(), token.encode()
    )


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No access log on stderr (scrapes every few seconds)."""


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def serve_on_port(host: str, port: int, token: str | None) -> WSGIServer:
    """Serve /metrics on its own port from a daemon thread (METRICS_PORT), in the process
    that sees every worker's values: `parley serve` itself. Returns the server (shutdown()
    stops it)."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found: GET /metrics\n"]
        if not authorized(environ.get("HTTP_AUTHORIZATION"), token):
            start_response(
                "401 Unauthorized",
                [("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer")],
            )
            return [b"unauthorized: send Authorization: Bearer <METRICS_TOKEN>\n"]
        # Not on the event loop's thread: the samplers run there, once a second.
        body = exposition(sample_here=False)
        start_response("200 OK", [("Content-Type", CONTENT_TYPE)])
        return [body]

    server = make_server(host, port, app, _ThreadingServer, _QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="parley-metrics", daemon=True)
    thread.start()
    return server
