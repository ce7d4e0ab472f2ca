"""Exact sums of quantity columns, on both databases.

SQLite keeps ``Numeric`` as a float: sums are taken over integer micro-units there (exact
for any quantity under 10^9 with 6 places), and as exact numerics on PostgreSQL.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Iterable, Iterator

from sqlalchemy import Integer, cast, func
from sqlalchemy.orm import Session

from formulary.db import is_sqlite

ZERO = Decimal(0)
_MICRO = Decimal("0.000001")
CHUNK = 500  # ids per IN list: far below every database's limit on parameters


def exact_sum(session: Session, column):
    """A SUM of a quantity column that reads back exactly (see the module docstring)."""
    if is_sqlite(session):
        return func.sum(cast(func.round(column * 1_000_000), Integer))
    return func.sum(column)


def from_sum(sqlite: bool, value) -> Decimal:
    """The ``Decimal`` of what ``exact_sum`` read back (``None``: zero)."""
    if value is None:
        return ZERO
    if sqlite:
        return (Decimal(int(value)) * _MICRO).normalize() + ZERO
    return Decimal(value).normalize() + ZERO


def chunked(ids: Iterable[int] | None) -> Iterator[list[int] | None]:
    """Sorted distinct ids in lists of at most ``CHUNK``; ``None`` (every row) once."""
    if ids is None:
        yield None
        return
    ids = sorted(set(ids))
    for i in range(0, len(ids), CHUNK):
        yield ids[i:i + CHUNK]
