"""Sorting and paging of lists: one rule for every list page and the API.

- ``?sort=KEY`` sorts ascending by a column the list allows, ``?sort=-KEY`` descending.
  A key the list does not allow is an error (the API answers 422 naming ``sort``; pages
  show the list in its default order with a message saying so).
- A page past the last is clamped to the last page (an empty list has one page, page 1);
  the answer says which page it shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from formulary.domain.errors import ValidationError
from formulary.domain.messages import msg


@dataclass(frozen=True)
class Sort:
    key: str
    descending: bool = False

    @property
    def param(self) -> str:
        """The value of ``?sort=`` that asks for this order."""
        return ("-" if self.descending else "") + self.key

    def toggled(self, key: str) -> str:
        """The ``?sort=`` a column header links to: this column the other way round when
        the list is sorted by it, else this column ascending."""
        if key == self.key:
            return Sort(key, not self.descending).param
        return key


def parse_sort(raw: str | None, allowed: Iterable[str], default: str) -> Sort:
    """The order ``raw`` asks for; ``default`` (a ``?sort=`` value) when it is empty.

    Raises ``ValidationError`` (field ``sort``) for a key not in ``allowed``."""
    allowed = tuple(allowed)
    raw = (raw or "").strip() or default
    descending = raw.startswith("-")
    key = raw[1:] if descending else raw
    if key not in allowed:
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        raise ValidationError(msg("This list cannot be sorted by '%(shown)s'. Sort by one "
                                  "of: %(choices)s (a leading '-' for descending).",
                                  shown=shown, choices=', '.join(allowed)),
                              field="sort")
    return Sort(key, descending)


def page_count(total: int, per_page: int) -> int:
    """How many pages ``total`` rows fill: at least one (an empty list is one empty page)."""
    return max(1, -(-total // per_page))


def clamp_page(page: int, total: int, per_page: int) -> int:
    """The page to show when ``page`` is asked for: the last page when it is past it."""
    return min(max(page, 1), page_count(total, per_page))
