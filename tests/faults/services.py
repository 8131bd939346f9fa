"""Private services that fault tests break: the shared PostgreSQL and Redis of the machine are
never paused, stopped or restarted (other test runs use them). They live in bench/services.py,
which the chaos run (bench/chaos.py) shares."""

from __future__ import annotations

from bench.services import PrivatePostgreSQL, PrivateRedis

__all__ = ["PrivatePostgreSQL", "PrivateRedis"]
