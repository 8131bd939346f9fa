"""The core flows on a messages table hash-partitioned by conversation (docs/scaling.md):
sending and receiving (REST and socket), idempotent resends, history pages, catch-up, edits
and deletes, reactions, threads and forwards, receipts and unread counts, search. They run as
a pytest of their own on a database whose messages table tests/scaling/partition_messages.sql
made partitioned."""

from __future__ import annotations

import os
import subprocess
import sys

import asyncpg
import pytest

from tests.conftest import BACKEND, PARTITIONED, ROOT

CORE_FLOWS = [
    "tests/scaling/test_partitioned.py::test_the_messages_table_is_partitioned",
    "tests/messages/test_send.py",
    "tests/messages/test_idempotency.py",
    "tests/messages/test_reading.py",
    "tests/messages/test_edit_delete.py",
    "tests/messages/test_reactions_threads_forward.py",
    "tests/inbox/test_receipts.py",
    "tests/inbox/test_unread.py",
    "tests/realtime/test_gateway.py",
    "tests/search/test_search.py",
]
# Left out: what partitioning changes on purpose (docs/scaling.md: a clientMessageId is unique
# per sender within a conversation, not across conversations), and typing, which never touches
# the table (its timing tests are the gateway's own).
SELECTION = "not test_client_message_id_reused_in_another_conversation_conflicts and not typing"


@pytest.mark.skipif(
    BACKEND != "postgres" or PARTITIONED, reason="PostgreSQL; starts the partitioned run itself"
)
def test_core_flows_pass_on_a_partitioned_messages_table() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "-k", SELECTION,
         *CORE_FLOWS],
        env={**os.environ, "PARLEY_TEST_BACKEND": "postgres", "PARLEY_TEST_PARTITIONED": "1"},
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert f"PASSED {CORE_FLOWS[0]}" in result.stdout, result.stdout[-3000:]


@pytest.mark.skipif(not PARTITIONED, reason="only in the partitioned run")
async def test_the_messages_table_is_partitioned(backend_env: dict[str, str]) -> None:
    connection = await asyncpg.connect(backend_env["DATABASE_URL"])
    try:
        kind = await connection.fetchval(
            "SELECT relkind::text FROM pg_class WHERE relname = 'messages'"
        )
        parts = await connection.fetchval(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'messages'::regclass"
        )
    finally:
        await connection.close()
    assert (kind, parts) == ("p", 4)
