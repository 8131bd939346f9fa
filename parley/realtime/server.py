"""The Socket.IO server (python-socketio), served by the same ASGI app at /socket.io."""

from __future__ import annotations

import socketio

from parley.core.config import Settings
from parley.realtime.fanout import EncodeOnce, LocalFirstRedisManager
from parley.realtime.handlers import register_handlers


def create_socket_server(settings: Settings) -> socketio.AsyncServer:
    """AsyncServer with the Redis manager when REDIS_URL is set (fan-out across instances)."""
    manager: socketio.AsyncManager = (
        LocalFirstRedisManager(
            settings.redis_url,
            channel=settings.redis_key_prefix + "socketio",
            password=settings.redis_password,
        )
        if settings.redis_url
        else EncodeOnce()
    )
    server = socketio.AsyncServer(
        async_mode="asgi",
        client_manager=manager,
        # None: same-origin browsers only (the served web client); non-browser clients send
        # no Origin. CORS_ORIGINS adds the pages allowed to connect from elsewhere.
        cors_allowed_origins=list(settings.cors_origins) or None,
        ping_interval=settings.ws_heartbeat_interval_ms / 1000,
        max_http_buffer_size=1024 * 1024,
        http_compression=False,
        logger=False,
        engineio_logger=False,
    )
    register_handlers(server, settings)
    return server
