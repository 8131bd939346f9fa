"""`parley rotate-keys`: re-encrypt what is not under the primary key, in resumable batches.

The work is a list of steps, one per encrypted column (`column_steps` finds every
`EncryptedText` column of the models, so a new one is covered without a change here); a step
of another kind (attachment bytes) implements `RotationStep` and is added to the list.

Each batch is its own committed transaction, so a kill loses at most the batch under way, and
a re-run finds exactly what is left: a step's rows are read in primary-key order (keyset) and
only those whose value does not start with `pe1:<primary id>:` (older keys, or still in clear).
Each row is written back only if it still holds the value read (compare and set), so a row an
instance rewrote meanwhile (under the primary key already) is left as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    MetaData,
    Table,
    Text,
    and_,
    column,
    func,
    select,
    table,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from parley.core.crypto import TEXT_PREFIX, KeyRing
from parley.core.encrypted import EncryptedText

DEFAULT_BATCH_SIZE = 500

# Told after each batch: (step name, rows done in this step so far, rows the step had to do).
OnProgress = Callable[[str, int, int], None]


class RotationStep(Protocol):
    """One kind of stored value to bring under the primary key."""

    @property
    def name(self) -> str: ...

    async def remaining(self, session: AsyncSession, ring: KeyRing) -> int:
        """How many values are not under the primary key (for the progress bar)."""
        ...

    async def next_batch(
        self, session: AsyncSession, ring: KeyRing, *, after: tuple[Any, ...] | None, limit: int
    ) -> tuple[int, tuple[Any, ...] | None]:
        """Re-encrypt up to `limit` values past `after` (keyset) in the caller's transaction:
        (values rewritten, the keyset position to go on from, None when done)."""
        ...


@dataclass(frozen=True)
class ColumnStep:
    """An `EncryptedText` column: its values read and written in their stored form."""

    table_name: str
    key_columns: tuple[str, ...]
    value_column: str

    @property
    def name(self) -> str:
        return f"{self.table_name}.{self.value_column}"

    def _table(self) -> Any:
        return table(
            self.table_name,
            *(column(name) for name in self.key_columns),
            column(self.value_column, Text),
        )

    def _stale(self, stored: Any, ring: KeyRing) -> ColumnElement[bool]:
        prefix = f"{TEXT_PREFIX}{ring.primary_id}:"
        return and_(stored.isnot(None), func.substr(stored, 1, len(prefix)) != prefix)

    async def remaining(self, session: AsyncSession, ring: KeyRing) -> int:
        rows = self._table()
        stored = rows.c[self.value_column]
        count = await session.scalar(
            select(func.count()).select_from(rows).where(self._stale(stored, ring))
        )
        return int(count or 0)

    async def next_batch(
        self, session: AsyncSession, ring: KeyRing, *, after: tuple[Any, ...] | None, limit: int
    ) -> tuple[int, tuple[Any, ...] | None]:
        rows = self._table()
        keys = [rows.c[name] for name in self.key_columns]
        stored = rows.c[self.value_column]
        statement = select(*keys, stored).where(self._stale(stored, ring))
        if after is not None:
            statement = statement.where(tuple_(*keys) > tuple_(*after))
        found = (await session.execute(statement.order_by(*keys).limit(limit))).all()
        if not found:
            return 0, None
        rewritten = 0
        for row in found:
            *key, old = row
            new = ring.encrypt_text(ring.decrypt_text(old))
            result = await session.execute(
                update(rows)
                .where(*(k == v for k, v in zip(keys, key, strict=True)), stored == old)
                .values({self.value_column: new})
            )
            rewritten += getattr(result, "rowcount", 0) or 0
        return rewritten, tuple(found[-1][: len(keys)])


def column_steps(metadata: MetaData) -> list[RotationStep]:
    """A step for every `EncryptedText` column of the models (import them all first)."""
    steps: list[RotationStep] = []
    for model_table in sorted(metadata.tables.values(), key=lambda t: t.name):
        assert isinstance(model_table, Table)
        keys = tuple(c.name for c in model_table.primary_key.columns)
        for model_column in model_table.columns:
            if isinstance(model_column.type, EncryptedText):
                steps.append(ColumnStep(model_table.name, keys, model_column.name))
    return steps


SessionFactory = Callable[[], Any]


async def rotate(
    sessions: SessionFactory,
    ring: KeyRing,
    steps: Sequence[RotationStep],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_start: Callable[[str, int], None] | None = None,
    on_progress: OnProgress | None = None,
) -> dict[str, int]:
    """Run every step to the end, one committed transaction per batch; step name -> values
    rewritten by this run."""
    done: dict[str, int] = {}
    for step in steps:
        async with sessions() as session:
            total = await step.remaining(session, ring)
        if on_start is not None:
            on_start(step.name, total)
        count = 0
        after: tuple[Any, ...] | None = None
        while True:
            async with sessions() as session, session.begin():
                rewritten, after = await step.next_batch(
                    session, ring, after=after, limit=batch_size
                )
            count += rewritten
            if on_progress is not None:
                on_progress(step.name, count, total)
            if after is None:
                break
        done[step.name] = count
    return done
