"""The effective state of a batch after its preparation (SPEC §12).

A batch records a ``status`` (``prepared``, ``verified``, ``discarded``); what a person may
do with it now also depends on the clock, the lots it used and the doses already given.
This module is the one place that decides it, from plain facts:

=============  ==========================================================================
state          when (the first row that applies wins)
=============  ==========================================================================
discarded      recorded status is ``discarded``
given          every dose has been given (nothing is left to use, so nothing to hold)
on_hold        a lot it used is now ``quarantined`` or ``recalled``
expired        ``now`` is at or past the beyond-use instant (and doses are left)
partly_given   some doses given, some left, still in date
verified       recorded status ``verified``, nothing given yet
prepared       recorded status ``prepared``
=============  ==========================================================================

Why this order: a discarded batch is out of every worklist whatever else is true. A fully
given batch is history: a later recall reaches its patients through the recall, not by
holding an empty batch. A hold says more than an expiry (a recall means patients may need
to be contacted), so a batch both past its date and on hold reads ``on_hold``; both refuse
verify, label and administration alike. The hold is not stored: it is derived from the
lots' current status, so releasing a quarantined lot releases every batch that has no
other lot held, and a recall (final) holds its batches for good.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from formulary.domain.messages import join_semicolons, msg

STATES = ("prepared", "verified", "partly_given", "given", "expired", "on_hold", "discarded")
HELD_LOT_STATUSES = ("quarantined", "recalled")
#: States in which nothing more may be done with a batch but discard it.
UNUSABLE_STATES = ("expired", "on_hold", "discarded", "given")
#: Doses left, no lot held, not discarded: the states a batch passes through by time
#: alone (within its beyond-use instant, then expired). ``compounding.tally`` keeps a
#: flag and a count of these; "expired" is the outstanding past their beyond-use instant.
OUTSTANDING_STATES = ("prepared", "verified", "partly_given", "expired")


@dataclass(frozen=True)
class LotFact:
    """One lot a batch used, as it is now."""

    lot_number: str
    status: str                 # available, quarantined, recalled
    ingredient_name: str = ""


@dataclass(frozen=True)
class BatchState:
    state: str
    reason: str                 # a sentence for people (a Message); "" when nothing is wrong
    doses_left: int
    held_lots: tuple[LotFact, ...] = ()

    @property
    def usable(self) -> bool:
        """May it still be verified, labelled for use, or given?"""
        return self.state not in UNUSABLE_STATES


def _utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc)


#: A held lot's status as its sentence says it.
_HELD_WORDS = {"quarantined": msg("quarantined"), "recalled": msg("recalled")}
assert set(_HELD_WORDS) == set(HELD_LOT_STATUSES)


def _lot_words(lot: LotFact) -> str:
    status = _HELD_WORDS.get(lot.status, lot.status)
    if lot.ingredient_name:
        return msg("%(ingredient)s lot %(lot)s is %(status)s", ingredient=lot.ingredient_name,
                   lot=lot.lot_number, status=status)
    return msg("lot %(lot)s is %(status)s", lot=lot.lot_number, status=status)


def held_lots_words(held: Iterable[LotFact]) -> str:
    """"Lidocaine lot L1 is recalled; lot L2 is quarantined": the lots that hold a batch,
    as the reason and the label say them (a Message, in the reader's language at the edge)."""
    return join_semicolons(_lot_words(lot) for lot in held)


def batch_state(*, status: str, beyond_use_at: datetime, now: datetime, doses: int,
                lots: Iterable[LotFact] = (), doses_given: int = 0) -> BatchState:
    """The effective state of a batch now, with the reason and the doses left.

    ``status`` is the recorded one; ``lots`` are the lots the batch used, each with its
    current status (a lot used twice may be passed twice); ``doses_given`` is the sum of
    the doses already administered from it (0 until administrations exist). Datetimes
    must be aware; they are compared as instants.
    """
    if status not in ("prepared", "verified", "discarded"):
        raise ValueError(f"unknown batch status {status!r}")
    if doses_given < 0 or doses_given > doses:
        raise ValueError("doses_given must be between 0 and the batch's doses")
    left = doses - doses_given
    if status == "discarded":
        return BatchState("discarded", msg("The batch was discarded."), left)
    if left == 0:
        return BatchState("given", msg("Every dose has been given."), 0)
    seen: dict[str, LotFact] = {}
    for lot in lots:
        if lot.status in HELD_LOT_STATUSES:
            seen.setdefault(lot.lot_number, lot)
    held = tuple(sorted(seen.values(), key=lambda lot: (lot.status != "recalled", lot.lot_number)))
    if held:
        return BatchState("on_hold", msg("On hold: %(lots)s. Do not use it.",
                                         lots=held_lots_words(held)), left, held)
    if _utc(now) >= _utc(beyond_use_at):
        return BatchState("expired", msg("Past its beyond-use date. Do not use it."), left)
    if doses_given > 0:
        return BatchState("partly_given", msg("%(given)s of %(doses)s doses given.",
                                              given=doses_given, doses=doses), left)
    return BatchState(status, "", left)
