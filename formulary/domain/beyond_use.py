"""The beyond-use date of a compounded batch (SPEC §7).

A batch may be used until the earliest of: the clinic's policy for its storage, the
expiry of every lot it used, and the end of the in-use period of every multi-dose lot it
drew from. The result names what limited it, for the label and the record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from types import MappingProxyType

from formulary.domain.messages import code, msg
from formulary.domain.stock import LotStock, add_elapsed, expiry_end

# After USP <797>, category 1 compounded sterile preparations. Read-only: a clinic's
# own policy is passed in, never patched into this one.
DEFAULT_POLICY: Mapping[str, timedelta] = MappingProxyType({
    "room": timedelta(hours=12),
    "fridge": timedelta(hours=24),
})


@dataclass(frozen=True)
class BeyondUse:
    """Use the batch before ``at`` (exclusive, in the clinic's zone). ``reason`` names
    what set it, e.g. ``"storage policy (fridge, 24 h)"``, ``"expiry of lot ABC123"``,
    ``"in-use period of lot XYZ (opened 2026-10-01)"``."""

    at: datetime
    reason: str


def _utc(value: datetime) -> datetime:
    # Datetimes sharing a zone compare by wall clock and ignore the hour repeated when
    # clocks go back; instants are compared in UTC.
    return value.astimezone(timezone.utc)


def _format_duration(duration: timedelta) -> str:
    seconds = int(duration.total_seconds())
    if seconds % 86400 == 0 and seconds >= 2 * 86400:
        return msg("%(days)s days", days=seconds // 86400)
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def beyond_use(prepared_at: datetime, storage: str, lots_used: Iterable[LotStock],
               tz: tzinfo, policy: Mapping[str, timedelta] = DEFAULT_POLICY) -> BeyondUse:
    """The beyond-use date and time of a batch prepared at ``prepared_at``.

    The earliest of:

    - ``prepared_at`` plus ``policy[storage]``, in elapsed time (24 h in the fridge is
      24 real hours, also on the day the clocks change);
    - the end of the expiry date of every lot used (midnight starting the next day in the
      clinic's zone, see ``stock.expiry_end``);
    - the end of the in-use period of every multi-dose lot used. A multi-dose lot with
      ``opened_at`` None is being opened by this very batch and is treated as opened at
      ``prepared_at``; the caller need not set it first.

    ``at`` is returned in the clinic's zone ``tz``. On a tie the storage policy is named
    first, then a lot's expiry, then its in-use period (lots by lot number, then id).

    Refused with ValueError: a storage the policy does not know, a non-positive policy
    duration, a naive ``prepared_at``, or a lot that is no longer usable at
    ``prepared_at`` (its expiry or in-use period already over), which would give a
    beyond-use date before the batch exists.
    """
    if not isinstance(prepared_at, datetime) or prepared_at.utcoffset() is None:
        raise ValueError("prepared_at must be a timezone-aware datetime")
    if not isinstance(tz, tzinfo):
        raise TypeError("tz must be a tzinfo (e.g. zoneinfo.ZoneInfo)")
    if storage not in policy:
        raise ValueError(f"no beyond-use policy for storage {storage!r}; "
                         f"known: {', '.join(sorted(policy))}")
    window = policy[storage]
    if not isinstance(window, timedelta) or window <= timedelta(0):
        raise ValueError(f"policy for storage {storage!r} must be a positive timedelta")

    # (at in UTC, rank, lot number, lot id, reason): the tuple order is the tie-break.
    limits = [(_utc(add_elapsed(prepared_at, window)), 0, "", 0,
               msg("storage policy (%(storage)s, %(duration)s)", storage=code(storage),
                   duration=_format_duration(window)))]
    for lot in lots_used:
        limits.append((_utc(expiry_end(lot.expiry_date, tz)), 1, lot.lot_number, lot.lot_id,
                       msg("expiry of lot %(lot)s", lot=lot.lot_number)))
        if lot.multi_dose:
            opened_at = prepared_at if lot.opened_at is None else lot.opened_at
            opened_on = opened_at.astimezone(tz).date()
            limits.append((_utc(add_elapsed(opened_at, lot.in_use_period)), 2, lot.lot_number,
                           lot.lot_id,
                           msg("in-use period of lot %(lot)s (opened %(opened)s)",
                               lot=lot.lot_number, opened=opened_on)))

    for at, rank, lot_number, _, reason in limits:
        if rank and at <= _utc(prepared_at):
            raise ValueError(f"lot {lot_number} is not usable at {prepared_at.isoformat()}: "
                             f"{reason} ended {at.astimezone(tz).isoformat()}")

    at, _, _, _, reason = min(limits)
    return BeyondUse(at=at.astimezone(tz), reason=reason)
