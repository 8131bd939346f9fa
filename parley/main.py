"""The app factory: routers, error rendering, middleware and the process's runtime."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import socketio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from redis.asyncio import Redis
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException

from parley import __doc__ as parley_doc
from parley.accounts.deny_list import DenyListRepair
from parley.accounts.purge import RevocationPurge
from parley.accounts.routes import router as accounts_router
from parley.accounts.throttle import AuthThrottle
from parley.analytics.routes import router as analytics_router
from parley.apidocs.document import allowed_methods, install_document
from parley.apidocs.pages import docs_router
from parley.attachments.actions.cleanup import OrphanSweeper
from parley.attachments.routes import router as attachments_router
from parley.attachments.store import AttachmentStore
from parley.audit.routes import router as audit_router
from parley.conversations.routes import router as conversations_router
from parley.core import metrics, runtime
from parley.core.cache import open_caches
from parley.core.collector import freeze_startup_objects, keep_long_lived_objects_frozen
from parley.core.config import Settings, load_settings
from parley.core.crypto import install_key_ring
from parley.core.db import Database, count_statements
from parley.core.errors import (
    AppError,
    InvalidJson,
    MethodNotAllowed,
    PayloadTooLarge,
    RouteNotFound,
    Unauthorized,
    ValidationFailed,
    is_dependency_failure,
    unexpected,
)
from parley.core.logging import configure_logging
from parley.core.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from parley.core.redis_pool import open_client
from parley.core.replica import Replica
from parley.core.runtime import EventPublisher
from parley.core.schemas import ApiModel
from parley.core.security import install_password_profile
from parley.core.shutdown import GracefulShutdown
from parley.inbox.routes import router as inbox_router
from parley.messages.changes import EditListeners
from parley.messages.pipeline import drain_sends, make_committer
from parley.messages.routes import hashtags_router, mentions_router
from parley.messages.routes import router as messages_router
from parley.messages.scheduled.dispatcher import ScheduledDispatcher
from parley.messages.scheduled.routes import router as scheduled_router
from parley.moderation.routes import router as moderation_router
from parley.notifications.routes import webhooks as notification_webhooks
from parley.notifications.service import start_notifier
from parley.presence.quota import SocketQuota
from parley.presence.routes import router as presence_router
from parley.presence.service import Presence
from parley.previews.worker import PreviewWorker
from parley.privacy.exports import ExportRunner
from parley.privacy.routes import router as privacy_router
from parley.ratelimit.service import RateLimiter
from parley.realtime.asyncapi import router as asyncapi_router
from parley.realtime.handover import DISCONNECT_SLACK_SECONDS, hand_over_sockets
from parley.realtime.publish import SocketPublisher
from parley.realtime.server import create_socket_server
from parley.retention.job import RetentionJob
from parley.search.language import search_language
from parley.search.routes import router as search_router
from parley.web.routes import web_router

log = logging.getLogger("parley")

# JSON bodies: a message of MAX_MESSAGE_LENGTH characters is at most 4 bytes each, plus fields.
MAX_JSON_BODY_BYTES = 1024 * 1024
# An upload's body beyond its file: the multipart boundaries, part headers and small fields.
# The file itself is held to MAX_FILE_SIZE while it streams (parley/attachments).
MULTIPART_OVERHEAD_BYTES = 64 * 1024


class DependencyHealth(ApiModel):
    status: str
    latency_ms: float | None = None
    error: str | None = None


class HealthOut(ApiModel):
    status: str
    checks: dict[str, DependencyHealth]


def _error_response(error: AppError, headers: dict[str, str] | None = None) -> JSONResponse:
    headers = dict(headers or {})
    retry_after = error.details.get("retryAfterSeconds")
    if error.status in (429, 503) and retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return JSONResponse(error.to_body(), status_code=error.status, headers=headers)


def _validation_details(error: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for item in error.errors():
        location = [str(part) for part in item.get("loc", ()) if part != "body"]
        details.append(
            {
                "field": ".".join(location),
                "message": item.get("msg", ""),
                "type": item.get("type", ""),
            }
        )
    return details


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_request: Request, error: AppError) -> JSONResponse:
        # Some errors name a header of their own (416's Content-Range).
        return _error_response(error, getattr(error, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, error: RequestValidationError) -> JSONResponse:
        if any(item.get("type") == "json_invalid" for item in error.errors()):
            return _error_response(InvalidJson())
        return _error_response(
            ValidationFailed("The request is not valid", errors=_validation_details(error))
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        mapped: AppError
        if error.status_code == 404:
            mapped = RouteNotFound()
        elif error.status_code == 405:
            mapped = MethodNotAllowed()
            # Starlette names only the first route's methods; GET and PATCH
            # /conversations/{id} live in two routers.
            allowed = allowed_methods(request.app.openapi(), request.url.path)
            if allowed:
                error.headers = {**(error.headers or {}), "Allow": ", ".join(allowed)}
        elif error.status_code == 413:
            mapped = PayloadTooLarge()
        elif error.status_code in (401, 403):
            mapped = ValidationFailed(str(error.detail))
        else:
            mapped = ValidationFailed(str(error.detail))
        # Keep the headers the error carries (405's Allow, for one).
        return _error_response(mapped, dict(error.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, error: Exception) -> JSONResponse:
        if is_dependency_failure(error):
            log.error("dependency failure", exc_info=error)
        else:
            log.exception("unhandled error", exc_info=error)
        return _error_response(unexpected(error))


async def _check(name: str, probe: Any) -> DependencyHealth:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(probe(), timeout=2)
    except Exception as error:
        return DependencyHealth(status="down", error=f"{type(error).__name__}: {error}"[:300])
    return DependencyHealth(
        status="ok", latency_ms=round((time.perf_counter() - started) * 1000, 2)
    )


def _pool_sampler(db: Database) -> Callable[[], None]:
    pool = db.engine.pool

    def sample() -> None:
        metrics.DB_POOL_CHECKED_OUT.set(pool.checkedout())  # type: ignore[attr-defined]
        metrics.DB_POOL_SIZE.set(pool.size())  # type: ignore[attr-defined]

    return sample


def _install_metrics_route(app: FastAPI, token: str | None) -> None:
    @app.get("/metrics", tags=["operations"], response_class=Response)
    async def metrics_text(request: Request) -> Response:
        """Prometheus text format (docs/api.md, Metrics); a bearer token when METRICS_TOKEN
        is set."""
        if not metrics.authorized(request.headers.get("authorization"), token):
            raise Unauthorized("This endpoint needs the metrics token")
        return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)


def create_app(settings: Settings | None = None) -> Any:
    """The ASGI app: Socket.IO at /socket.io, everything else the HTTP API."""
    settings = settings or load_settings()
    configure_logging(settings.log_level)
    socket_server = create_socket_server(settings)
    publisher = SocketPublisher(socket_server)

    async def hand_over(deadline: float) -> None:
        await hand_over_sockets(
            socket_server,
            spread_seconds=settings.shutdown_reconnect_spread_seconds,
            deadline=deadline,
        )

    api = create_api(settings, publisher, on_stop=publisher.stop, on_drain=hand_over)
    return socketio.ASGIApp(socket_server, other_asgi_app=api, socketio_path="socket.io")


def _redis_client(settings: Settings, url: str | None, client: str) -> Redis | None:
    """A pooled client for `url` (None when unset), its round trips counted as `client`."""
    if url is None:
        return None
    return open_client(
        url,
        password=settings.redis_password,
        max_connections=settings.redis_pool_size,
        client=client,
    )


def create_api(
    settings: Settings,
    publisher: EventPublisher,
    on_start: Callable[[Redis | None, str], Awaitable[None]] | None = None,
    on_stop: Callable[[], Awaitable[None]] | None = None,
    on_drain: Callable[[float], Awaitable[None]] | None = None,
) -> FastAPI:
    """The HTTP API; the runtime (database, cache, committer) starts in its lifespan.
    `on_drain(deadline)` is the graceful shutdown's last step (the sockets' handover)."""
    if settings.key_ring is not None:
        install_key_ring(settings.key_ring)
    install_password_profile(settings.password_hash_profile)
    if settings.password_hash_profile == "CHEAPEST":
        log.warning("PASSWORD_HASH_PROFILE=CHEAPEST: passwords are barely hashed (tests only)")

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings)
        redis = _redis_client(settings, settings.redis_url, "app")
        cache_redis = _redis_client(settings, settings.redis_cache_url, "cache")
        cache, store = open_caches(settings, redis, cache_redis)
        state = runtime.Runtime(
            settings=settings,
            db=db,
            cache=cache,
            store=store,
            publisher=publisher,
            redis=redis,
            cache_redis=cache_redis,
        )
        runtime.install(state)
        # An in-process deny-list is empty at start, a Redis may have lost its data: the
        # database's revocations are copied back (the token check asks it meanwhile).
        deny_list_repair = DenyListRepair(db, store)
        state.register(deny_list_repair)
        await deny_list_repair.start()
        replica: Replica | None = None
        if settings.database_read_url is not None:
            replica = Replica(settings, db.engine, store, count_statements)
            await replica.start()
            db.attach_replica(replica)
        state.register(RateLimiter(settings, redis))
        state.register(AuthThrottle(settings, redis))
        state.register(await search_language(settings, db))
        committer = make_committer()
        state.register(committer)
        edits = EditListeners()
        state.register(edits)
        previews: PreviewWorker | None = None
        if settings.link_previews:
            previews = PreviewWorker(settings, db, cache)
            previews.attach(committer, edits)
            state.register(previews)
            await previews.start()
        await committer.start()
        # After the committer: each due message goes through the send action.
        dispatcher = ScheduledDispatcher(db)
        state.register(dispatcher)
        dispatcher.start()
        attachments = await AttachmentStore.open(settings)
        state.register(attachments)
        sweeper = OrphanSweeper(
            db, attachments.storage, older_than_seconds=settings.orphan_upload_seconds
        )
        state.register(sweeper)
        sweeper.start()
        retention = RetentionJob(db, attachments.storage, settings)
        state.register(retention)
        retention.start()
        revocation_purge = RevocationPurge(db)
        state.register(revocation_purge)
        revocation_purge.start()
        export_runner = ExportRunner(db)
        state.register(export_runner)
        export_runner.start()
        presence = Presence(redis, settings.redis_key_prefix, settings.presence_ttl_seconds)
        state.register(presence)
        await presence.start()
        quota = SocketQuota(
            redis,
            settings.redis_key_prefix,
            limit=settings.ws_max_connections_per_user,
            ttl_seconds=settings.presence_ttl_seconds,
        )
        state.register(quota)
        await quota.start()
        # After the committer and presence: it listens to the one and asks the other.
        notifier = await start_notifier(settings, redis, committer, presence)
        if notifier is not None:
            state.register(notifier)
        if on_start is not None:
            await on_start(redis, settings.redis_key_prefix)
        collector: asyncio.Task[None] | None = None
        if settings.gc_policy == "freeze":
            freeze_startup_objects()
            collector = asyncio.create_task(
                keep_long_lived_objects_frozen(lambda: presence.local_sockets),
                name="parley-collector",
            )
        remove_pool_sampler = metrics.add_sampler(_pool_sampler(db))
        sampler = asyncio.create_task(metrics.sample_periodically(), name="parley-metrics")

        async def drain(deadline: float) -> None:
            """SIGTERM, before uvicorn's own shutdown (core/shutdown.py): no new sends or
            sockets, every accepted send committed and confirmed, then the sockets told to
            reconnect elsewhere (docs/deployment.md, Graceful shutdown)."""
            await dispatcher.stop()  # its sends would be refused from here on
            state.draining = True
            spread = settings.shutdown_reconnect_spread_seconds
            if not await drain_sends(deadline - spread - DISCONNECT_SLACK_SECONDS):
                log.error(
                    "graceful shutdown: accepted sends still unwritten",
                    extra={"outstanding": committer.backpressure.outstanding},
                )
            if on_drain is not None:
                await on_drain(deadline)

        shutdown = GracefulShutdown(settings.shutdown_grace_seconds, drain)
        shutdown.install()
        metrics.WORKER_UP.set(1)
        log.info(
            "parley started",
            extra={"database": settings.database_url.split("://")[0], "redis": bool(redis)},
        )
        try:
            yield
        finally:
            shutdown.uninstall()
            sampler.cancel()
            remove_pool_sampler()
            if collector is not None:
                collector.cancel()
            await presence.stop()
            await quota.stop()
            await dispatcher.stop()  # before the committer its sends wait on
            await committer.stop()
            if notifier is not None:
                await notifier.stop()  # after the committer's last announcements
            if previews is not None:
                await previews.stop()  # after the committer's last listener calls
            await retention.stop()
            await revocation_purge.stop()
            await deny_list_repair.stop()
            await export_runner.stop()
            await sweeper.stop()
            await attachments.stop()
            if on_stop is not None:
                await on_stop()  # after the committer's last announcements
            if replica is not None:
                await replica.stop()
            await db.dispose()
            for client in (redis, cache_redis):
                if client is not None:
                    await client.aclose()
            metrics.worker_exiting()

    app = FastAPI(
        title="Parley",
        version="0.1.0",
        description=(parley_doc or "") + " See docs/api.md for conventions and errors.",
        lifespan=lifespan,
        # Served by parley/apidocs from installed assets (no CDN), with the real errors.
        docs_url=None,
        redoc_url=None,
    )
    install_document(app)
    _install_error_handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["*"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "X-Request-ID",
                "Range",
                "If-None-Match",
            ],
            # Downloads: a web client reads the file's name, size and range from these.
            expose_headers=[
                "X-Request-ID",
                "Retry-After",
                "Content-Disposition",
                "Content-Range",
                "Content-Length",
                "ETag",
            ],
        )
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=max(MAX_JSON_BODY_BYTES, settings.max_message_length * 4 + 65536),
        by_path={"/attachments": settings.max_file_size_bytes + MULTIPART_OVERHEAD_BYTES},
    )
    app.add_middleware(RequestContextMiddleware, count_sql=settings.sql_count_header)
    app.include_router(accounts_router)
    app.include_router(conversations_router)
    app.include_router(inbox_router)
    # Before messages: its GET /messages/{id} would match /messages/search first.
    app.include_router(search_router)
    app.include_router(scheduled_router)  # likewise /messages/scheduled
    app.include_router(messages_router)
    app.include_router(mentions_router)
    app.include_router(hashtags_router)
    app.include_router(audit_router)
    app.include_router(analytics_router)
    app.include_router(moderation_router)
    app.include_router(presence_router)
    app.webhooks.include_router(notification_webhooks)
    app.include_router(attachments_router)
    app.include_router(privacy_router)
    app.include_router(asyncapi_router)  # the Socket.IO events, AsyncAPI 3
    app.include_router(docs_router(app.title, app.openapi_url or "/openapi.json"))
    # Last: the client's page and assets take only paths no API route has.
    app.include_router(web_router(settings.web_dist_dir))

    if settings.metrics_port is None:
        _install_metrics_route(app, settings.metrics_token)

    @app.get(
        "/health",
        response_model=HealthOut,
        tags=["operations"],
        responses={503: {"model": HealthOut, "description": "A dependency is down"}},
    )
    async def health() -> JSONResponse:
        """Liveness, and the status of each dependency (database; Redis when configured);
        503 `draining` once the graceful shutdown has begun."""
        state = runtime.current()

        async def _database() -> None:
            async with state.db.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))

        checks = {"database": await _check("database", _database)}
        if state.redis is not None:
            redis = state.redis

            async def _redis() -> None:
                await redis.ping()

            checks["redis"] = await _check("redis", _redis)
        if state.cache_redis is not None:
            cache_redis = state.cache_redis

            async def _redis_cache() -> None:
                await cache_redis.ping()

            checks["redisCache"] = await _check("redisCache", _redis_cache)
        healthy = all(check.status == "ok" for check in checks.values())
        status = "ok" if healthy else "degraded"
        if state.draining:  # shutting down: a load balancer's check takes it out of service
            healthy, status = False, "draining"
        body = HealthOut(status=status, checks=checks)
        return JSONResponse(
            body.model_dump(mode="json", by_alias=True, exclude_none=True),
            status_code=200 if healthy else 503,
        )

    return app
