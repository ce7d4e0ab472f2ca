"""A year of compounding: batches with their lot lines, the lots received to feed them,
and the ledger (a receipt per lot, a batch_use per line), as plain rows.

The stock is simulated in time order, ingredient by ingredient, first lot first: a lot is
received a few days before the batch that needs it, and a batch line never takes more
than its lot holds, so every ``balance_after`` is the running sum and never below zero.
Lots beyond those the batches use fill the stock room up to the lot count: spare lots in
stock, a few expiring soon, quarantined, recalled or expired.
"""

from __future__ import annotations

import bisect
import math
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal

from formulary.domain.batch_numbers import format_batch_number
from formulary.scale.catalog import SUPPLIERS

OPENING_HOURS = (8, 19)
BEYOND_USE_HOURS = {"room": 12, "fridge": 24}


def batch_times(rng, count, start, end, tz):
    """``count`` preparation times on clinic days (Monday to Saturday), opening hours, all
    within ``[start, end - 5 min]``.

    The first and last days of the year are cut to the part of their opening hours that
    lies inside the window (at 10:00 on the first day, only 10:00-19:00 is drawn from), so
    every time falls inside the periods the cocktails are used in, whatever the hour.
    """
    last = end - timedelta(minutes=5)
    windows = []
    for i in range((end - start).days + 2):
        day = start.astimezone(tz).date() + timedelta(days=i)
        if day.weekday() >= 6:
            continue
        opens = max(datetime.combine(day, time(OPENING_HOURS[0]), tzinfo=tz), start)
        closes = min(datetime.combine(day, time(OPENING_HOURS[1]), tzinfo=tz), last)
        seconds = int((closes - opens).total_seconds())
        if seconds > 0:
            windows.append((opens.astimezone(timezone.utc), seconds))
    if not windows:
        raise ValueError(f"no opening hours between {start} and {end}")
    # drawn in UTC (exact seconds across a DST change), read in clinic time
    out = [(opens + timedelta(seconds=rng.randrange(seconds))).astimezone(tz)
           for opens, seconds in (rng.choice(windows) for _ in range(count))]
    out.sort()
    return out


#: Random draws of a cocktail period before falling back to the list of those that cover
#: the batch time (most periods cover most of the year, so a draw nearly always fits).
PERIOD_DRAWS = 20


def _period_at(rng, periods, at):
    """A cocktail period (cocktail, version, storage, since, until) that covers ``at``."""
    for _ in range(PERIOD_DRAWS):
        period = rng.choice(periods)
        if period[3] <= at < period[4]:
            return period
    covering = [p for p in periods if p[3] <= at < p[4]]
    if not covering:
        raise ValueError(f"no cocktail is in use at {at.isoformat()}")
    return rng.choice(covering)


def plan_batches(rng, times, periods, components, safe_patients, pharmacists, end):
    """Choose cocktail, version, doses, patient and fate of each batch (no lots yet)."""
    safe_patients = sorted(safe_patients, key=lambda p: p[1])
    safe_created = [c for _, c in safe_patients]
    batches, per_day = [], {}
    for n, at in enumerate(times, start=1):
        cocktail_id, version_id, storage, _since, _until = _period_at(rng, periods, at)
        patient = None
        if safe_patients and rng.random() < 0.8:
            upto = bisect.bisect_right(safe_created, at)
            if upto:
                patient = safe_patients[rng.randrange(upto)][0]
        day = at.date()
        per_day[day] = per_day.get(day, 0) + 1
        preparer = pharmacists[n % len(pharmacists)]
        checker = pharmacists[(n + 1) % len(pharmacists)]
        age = end - at
        fate = "prepared" if age < timedelta(days=2) else (
            "discarded" if rng.random() < 0.015 else "verified")
        hours = BEYOND_USE_HOURS[storage]
        batches.append({
            "id": n, "batch_number": format_batch_number(day, per_day[day]),
            "cocktail_id": cocktail_id, "cocktail_version_id": version_id,
            "doses": rng.choice((1, 1, 1, 2, 2, 3)), "patient_id": patient,
            "prepared_by_id": preparer, "prepared_at": at,
            "beyond_use_at": at + timedelta(hours=hours),
            "beyond_use_reason": f"{storage} storage: {hours} h after preparation",
            "status": fate, "safety_verdict": "safe" if patient else None,
            "override_reason": None,
            "verified_by_id": checker if fate == "verified" else None,
            "verified_at": at + timedelta(minutes=rng.randint(10, 90)) if fate == "verified" else None,
            "discarded_by_id": preparer if fate == "discarded" else None,
            "discarded_at": at + timedelta(minutes=rng.randint(5, 40)) if fate == "discarded" else None,
            "discard_reason": "Syringe contaminated during transfer; prepared again."
            if fate == "discarded" else None,
            "idempotency_key": None})
    return batches


class Stock:
    """The lots of every ingredient, received on demand, and their ledger."""

    def __init__(self, rng, specs, lot_size, receiver, start):
        self.rng, self.specs, self.lot_size, self.receiver = rng, specs, lot_size, receiver
        self.start = start
        self.lots: list[dict] = []
        self.movements: list[dict] = []   # ids assigned at the end, in time order
        self.current: dict[int, dict] = {}
        self.last_received: dict[int, datetime] = {}

    def receive(self, ing_id, at, quantity, *, status="available", expiry=None, reason=""):
        n = len(self.lots) + 1
        spec = self.specs[ing_id - 1]
        lot = {"id": n, "ingredient_id": ing_id,
               "lot_number": f"{spec['name'][:3].upper().strip()}{at:%y%m}{n:05d}",
               "expiry_date": expiry or (at + timedelta(days=self.rng.randint(365, 730))).date(),
               "supplier": SUPPLIERS[(ing_id + n) % len(SUPPLIERS)],
               "unit_cost": Decimal(85 + (ing_id * 37) % 400) / 100,
               "quantity_received": quantity, "quantity_on_hand": quantity, "status": status,
               "status_reason": reason, "opened_at": None, "received_at": at,
               "received_by_id": self.receiver}
        self.lots.append(lot)
        self.movements.append({"lot_id": n, "kind": "receipt", "reason": None,
                               "quantity_delta": quantity, "balance_after": quantity, "note": "",
                               "user_id": self.receiver, "at": at, "batch_id": None})
        return lot

    def take(self, ing_id, quantity, at, batch):
        lot = self.current.get(ing_id)
        if lot is None or lot["quantity_on_hand"] < quantity:
            previous = self.last_received.get(ing_id, self.start - timedelta(days=30))
            received = max(previous, at - timedelta(days=self.rng.randint(2, 6),
                                                    hours=self.rng.randint(0, 8)))
            size = max(self.lot_size[ing_id], quantity)
            lot = self.receive(ing_id, min(received, at - timedelta(minutes=30)), size)
            self.current[ing_id] = lot
            self.last_received[ing_id] = lot["received_at"]
        lot["quantity_on_hand"] -= quantity
        if lot["opened_at"] is None:
            lot["opened_at"] = at
        self.movements.append({"lot_id": lot["id"], "kind": "batch_use", "reason": None,
                               "quantity_delta": -quantity, "balance_after": lot["quantity_on_hand"],
                               "note": batch["batch_number"], "user_id": batch["prepared_by_id"],
                               "at": at, "batch_id": batch["id"]})
        return lot


def lot_sizes(batches, version_components, specs, lots_for_use):
    """A lot size per ingredient so that the year's use takes about ``lots_for_use`` lots."""
    used, lines = {}, {}
    for b in batches:
        for comp in version_components[b["cocktail_version_id"]]:
            i = comp["ingredient_id"]
            used[i] = used.get(i, Decimal(0)) + comp["stock_quantity"] * b["doses"]
            lines[i] = lines.get(i, 0) + 1
    total_lines = sum(lines.values()) or 1
    sizes = {}
    for i in range(1, len(specs) + 1):
        share = max(1, round(lots_for_use * lines.get(i, 0) / total_lines))
        sizes[i] = Decimal(max(10, math.ceil(used.get(i, Decimal(0)) / share / 10) * 10))
    return sizes


def run(rng, batches, version_components, specs, lot_count, receiver, start, end, today):
    """Lines and ledger for the planned batches; then the spare lots. Returns
    (lots, movements with ids, lines)."""
    sizes = lot_sizes(batches, version_components, specs, int(lot_count * 0.85))
    stock = Stock(rng, specs, sizes, receiver, start)
    lines = []
    for b in batches:
        for comp in version_components[b["cocktail_version_id"]]:
            qty = comp["stock_quantity"] * b["doses"]
            lot = stock.take(comp["ingredient_id"], qty, b["prepared_at"], b)
            lines.append({"id": len(lines) + 1, "batch_id": b["id"],
                          "ingredient_id": comp["ingredient_id"], "lot_id": lot["id"],
                          "quantity": qty, "unit": "mL"})
    # The stock room at the end of the year: spare lots up to the lot count.
    k = 0
    while len(stock.lots) < lot_count:
        k += 1
        ing = (k * 7) % len(specs) + 1
        size = sizes[ing]
        kind = k % 20
        if kind == 0:
            stock.receive(ing, start - timedelta(days=rng.randint(300, 400)), size,
                          expiry=today - timedelta(days=rng.randint(1, 60)))
        elif kind == 1:
            stock.receive(ing, end - timedelta(days=rng.randint(1, 60)), size, status="quarantined",
                          reason="cold chain: fridge log out of range; awaiting supplier advice")
        elif kind == 2:
            stock.receive(ing, end - timedelta(days=rng.randint(30, 200)), size, status="recalled",
                          reason="supplier recall notice: particulate matter in the batch")
        elif kind in (3, 4, 5):
            stock.receive(ing, end - timedelta(days=rng.randint(1, 120)), size,
                          expiry=today + timedelta(days=rng.randint(15, 85)))
        else:
            stock.receive(ing, end - timedelta(days=rng.randint(1, 90)), size)
    stock.movements.sort(key=lambda m: m["at"])  # stable: a lot's own order is kept
    for n, m in enumerate(stock.movements, start=1):
        m["id"] = n
    return stock.lots, stock.movements, lines
