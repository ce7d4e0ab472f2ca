"""Sortable, paged lists over SQLAlchemy statements, shared by the list pages and the API.

A list declares its ``SortColumns`` once (the keys a person may sort by, the column(s)
each key orders by, the default order, and the tie-breaker that makes every order
stable: rows that compare equal always come in the same order, so paging never shows a
row twice or skips one). Pages read the order with :func:`page_sort` (an unknown key is
ignored with a message), the API with :func:`api_sort` (an unknown key is 422). Both then
call :func:`paged` (a page past the last is clamped to the last: the rule of
``formulary.domain.listing``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from flask import flash, request
from sqlalchemy import Column, Table, func, select

from formulary.domain.errors import ValidationError
from formulary.domain.listing import Sort, clamp_page, parse_sort
from formulary.extensions import db
from formulary.i18n import _, tr


@dataclass(frozen=True)
class SortColumns:
    """``columns``: sort key -> column expression or tuple of them; ``default``: the
    ``?sort=`` value used when none is given; ``tiebreak``: unique column(s) ordered last,
    in the same direction."""

    columns: Mapping[str, object]
    default: str
    tiebreak: tuple

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self.columns)

    def order(self, sort: Sort) -> list:
        cols = self.columns[sort.key]
        cols = cols if isinstance(cols, tuple) else (cols,)
        out = []
        for col in (*cols, *self.tiebreak):
            # NULLs last either way, on both databases (they disagree by default); a NOT
            # NULL column is ordered plainly, so that an index on it serves the order
            # (PostgreSQL reads ``DESC NULLS LAST`` from no plain btree index). A list
            # sorts by its own table's columns, inner-joined ones, or expressions (a
            # NOT NULL column of an outer-joined table could be NULL: not sorted here)
            ordered = col.desc() if sort.descending else col.asc()
            out.append(ordered.nulls_last() if _nullable(col) else ordered)
        return out

    def apply(self, stmt, sort: Sort):
        """``stmt`` ordered by ``sort`` (any order it had is replaced)."""
        return stmt.order_by(None).order_by(*self.order(sort))


def _nullable(col) -> bool:
    """Whether ``col`` may hold NULL: False only for a table column declared NOT NULL."""
    expr = col.__clause_element__() if hasattr(col, "__clause_element__") else col
    return not isinstance(expr, Column) or bool(expr.nullable)


def api_sort(spec: SortColumns) -> Sort:
    """The order of an API list: ``?sort=``; an unknown key raises ``ValidationError``
    (422, field ``sort``)."""
    return parse_sort(request.args.get("sort"), spec.keys, spec.default)


def page_sort(spec: SortColumns) -> Sort:
    """The order of a list page: ``?sort=``; an unknown key is ignored (the default order)
    with a message saying so."""
    try:
        return parse_sort(request.args.get("sort"), spec.keys, spec.default)
    except ValidationError as exc:
        flash(f"{tr(exc.message)} {_('Shown in the default order.')}", "warning")
        return parse_sort(None, spec.keys, spec.default)


def count_statement(stmt):
    """A statement counting the rows of ``stmt``. A select of one mapped class on its
    table (no join, grouping, DISTINCT or LIMIT) is counted on that table with the
    same WHERE, so that columns computed per row (correlated sums, eager loads) are not
    worked out for every row only to be counted; anything else through a subquery."""
    froms = stmt.columns_clause_froms  # the entity's table, not the eager loads' joins
    described = stmt.column_descriptions
    plain = (len(described) == 1 and isinstance(described[0].get("expr"), type)
             and len(froms) == 1 and isinstance(froms[0], Table) and not stmt._setup_joins
             and not stmt._from_obj and not stmt._group_by_clauses
             and stmt._having_criteria == () and not stmt._distinct
             and not stmt._distinct_on
             and stmt._limit_clause is None and stmt._offset_clause is None)
    if plain:
        count = select(func.count()).select_from(froms[0])
        return count if stmt.whereclause is None else count.where(stmt.whereclause)
    return select(func.count()).select_from(stmt.order_by(None).subquery())


def distinct_values(column) -> list:
    """The distinct non-NULL values of an indexed ``column``, in order (a filter's
    choices). One index look-up per value (a recursive "next value after" query) instead
    of reading every row: the audit log's object types are a handful among 200,000 rows."""
    step = select(func.min(column).label("v")).cte("distinct_values", recursive=True)
    prev = step.alias("prev")
    step = step.union_all(
        select(select(func.min(column)).where(column > prev.c.v).scalar_subquery())
        .where(prev.c.v.is_not(None)))
    return db.session.execute(
        select(step.c.v).where(step.c.v.is_not(None)).order_by(step.c.v)).scalars().all()


def count_of(stmt) -> int:
    return db.session.execute(count_statement(stmt)).scalar_one()


def paged(stmt, page: int, per_page: int, *, total: int | None = None, count=None,
          objects: bool = True, unique: bool = False):
    """``(rows, page, total)``: the rows of ``page`` (clamped to the last page) of ``stmt``,
    ORM objects (``objects``) or plain rows. ``total``/``count``: the row count, or a
    cheaper statement counting the same rows, when the caller has one."""
    if total is None:
        total = (db.session.execute(count).scalar_one() if count is not None else count_of(stmt))
    page = clamp_page(page, total, per_page)
    result = db.session.execute(stmt.limit(per_page).offset((page - 1) * per_page))
    if unique:
        result = result.unique()
    rows = result.scalars().all() if objects else result.all()
    return rows, page, total
