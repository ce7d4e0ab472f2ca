"""Receiving, adjusting and changing the status of lots (SPEC §4).

Every function takes the acting user, validates through the domain, changes stock only
through ``ledger`` (after ``ledger.lock_lots``), audits, and flushes; the caller's
transaction commits. A refusal raises a domain error before anything is written.

Status changes: ``available`` <-> ``quarantined`` both ways; either -> ``recalled``.
A recall is final: a recalled lot is never released again (the supplier or the
authority recalled it; a new delivery is a new lot). Each change needs a reason.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from formulary import clock
from formulary.audit.services import record
from formulary.db import utcnow
from formulary.domain import gs1
from formulary.domain.dates import parse_iso_date
from formulary.domain.errors import (DomainError, Duplicate, InvalidState, NotFound,
                                     ValidationError)
from formulary.domain.messages import code, msg
from formulary.domain.stock import MAX_SHELF_YEARS, expiry_end, expiry_too_far
from formulary.domain.text import check_text
from formulary.domain.units import parse_quantity
from formulary.inventory import ledger
from formulary.inventory.models import (ADJUSTMENT_REASONS, LOT_STATUSES, STATUS_REASON_MAX, Ingredient,
                                        IngredientGtin, Lot, Movement)
from formulary.recalls.services import open_recall

LOT_NUMBER_MAX = 40
SUPPLIER_MAX = 120
NOTE_MAX = 1000
REASON_MAX = STATUS_REASON_MAX


def _text(value, field: str, label: str, *, required: bool, max_length: int) -> str:
    """A lot's free text: the shared check (a visible letter or digit; SPEC §3)."""
    return check_text(value, field, label, required=required, max_length=max_length,
                      multiline=field == "note")


def parse_expiry(value, field: str = "expiry_date") -> date:
    return parse_iso_date(value, field, what=msg("the expiry date"))


def lot_snapshot(lot: Lot) -> dict:
    return {"ingredient_id": lot.ingredient_id, "lot_number": lot.lot_number,
            "expiry_date": lot.expiry_date, "supplier": lot.supplier, "unit_cost": lot.unit_cost,
            "quantity_received": lot.quantity_received,
            "quantity_on_hand": lot.quantity_on_hand, "status": lot.status,
            "status_reason": lot.status_reason}


def _resolve_ingredient(session: Session, ingredient) -> Ingredient:
    if isinstance(ingredient, Ingredient):
        return ingredient
    if isinstance(ingredient, bool) or not isinstance(ingredient, int):
        raise ValidationError("Choose an ingredient.", field="ingredient_id")
    found = session.get(Ingredient, ingredient)
    if found is None:
        raise ValidationError(msg("Unknown ingredient %(ingredient)s.",
                                  ingredient=ingredient), field="ingredient_id")
    return found


def receive_lot(session: Session, actor, *, ingredient, lot_number, expiry_date, quantity,
                unit_cost=None, supplier="", now: datetime | None = None) -> Lot:
    """Receive ``quantity`` (in the ingredient's stock unit) of a lot.

    The same lot number of the same ingredient with the same expiry adds to that lot
    (a receipt movement; ``quantity_received`` grows); with another expiry it is refused
    (409 ``duplicate``); a lot that is quarantined or recalled is refused (409
    ``invalid_state``, naming its status). Refused: an inactive or unknown ingredient, an
    expired lot, a quantity that is not positive, a unit cost below zero or with more
    than 4 decimal places.
    """
    now = now or utcnow()
    tz = clock.clinic_tz()
    ing = _resolve_ingredient(session, ingredient)
    problems: dict[str, list[str]] = {}

    def check(fn):
        try:
            return fn()
        except ValidationError as exc:
            for k, v in exc.fields.items():
                problems.setdefault(k, []).extend(v)
            return None

    number = check(lambda: _text(lot_number, "lot_number", msg("Lot number"), required=True,
                                 max_length=LOT_NUMBER_MAX))
    expiry = check(lambda: parse_expiry(expiry_date))
    qty = check(lambda: parse_quantity(quantity, "quantity"))
    cost = None
    if unit_cost is not None and unit_cost != "":
        cost = check(lambda: parse_quantity(unit_cost, "unit_cost", allow_zero=True))
    supplier_name = check(lambda: _text(supplier, "supplier", msg("Supplier"), required=False,
                                        max_length=SUPPLIER_MAX))
    if not ing.active:
        problems.setdefault("ingredient_id", []).append(
            f"{ing.name} is inactive: make it active before receiving it.")
    if expiry is not None and now >= expiry_end(expiry, tz):
        problems.setdefault("expiry_date", []).append(
            f"This lot expired on {expiry.isoformat()}: an expired lot is not received.")
    elif expiry is not None and expiry_too_far(expiry, now.astimezone(tz).date()):
        problems.setdefault("expiry_date", []).append(
            msg("An expiry more than %(years)s years ahead (%(expiry)s) is not a vial's: "
                "check the date.", years=MAX_SHELF_YEARS, expiry=expiry))
    if problems:
        first = next(iter(problems.values()))[0]
        raise ValidationError(first, fields=problems)

    existing = session.execute(
        select(Lot.id).where(Lot.ingredient_id == ing.id, Lot.lot_number == number)
    ).scalar_one_or_none()
    if existing is None:
        lot = Lot(ingredient_id=ing.id, lot_number=number, expiry_date=expiry, supplier=supplier_name,
                  unit_cost=cost, quantity_received=qty, quantity_on_hand=Decimal(0),
                  status="available", received_at=now, received_by_id=getattr(actor, "id", None))
        try:
            with session.begin_nested():
                session.add(lot)
                session.flush()
        except IntegrityError:
            # Another transaction received the same lot number at the same moment: add
            # to it as a re-receipt (it is committed now; the unique index waited).
            existing = session.execute(
                select(Lot.id).where(Lot.ingredient_id == ing.id, Lot.lot_number == number)
            ).scalar_one()
        else:
            lot.ingredient = ing
            ledger.post_movement(session, lot, qty, "receipt", actor, at=now,
                                 note=f"received from {supplier_name}" if supplier_name else "")
            session.flush()
            record(session, actor, "lot.receive", "lot", lot.id,
                   summary=f"Received {qty} {ing.unit} of {ing.name}, lot {number}",
                   after=lot_snapshot(lot))
            return lot
    lot = ledger.lock_lots(session, [existing])[existing]
    if lot.status != "available":
        # A quarantined lot was put aside by a person, a recalled one by the supplier or
        # the authority: more of it on the shelf is not stock to add (release it first).
        raise InvalidState(msg("Lot %(number)s of %(ingredient)s is %(status)s: more of it "
                               "cannot be received.",
                               number=number, ingredient=ing.name, status=code(lot.status)), field="lot_number")
    if lot.expiry_date != expiry:
        raise Duplicate(
            msg("Lot %(number)s of %(ingredient)s was received with expiry %(expiry_date)s, "
                "not %(expiry)s: check the vial.",
                number=number, ingredient=ing.name, expiry_date=lot.expiry_date, expiry=expiry),
            field="expiry_date")
    before = lot_snapshot(lot)
    lot.quantity_received = lot.quantity_received + qty
    if cost is not None:
        lot.unit_cost = cost
    if supplier_name and not lot.supplier:
        lot.supplier = supplier_name
    ledger.post_movement(session, lot, qty, "receipt", actor, at=now,
                         note=f"received from {supplier_name}" if supplier_name else "")
    session.flush()
    record(session, actor, "lot.receive", "lot", lot.id,
           summary=f"Received {qty} {ing.unit} more of {ing.name}, lot {number}",
           before=before, after=lot_snapshot(lot))
    return lot


# --- scanning --------------------------------------------------------------------------

def describe_scan(vial: gs1.ScannedVial) -> str:
    parts = [f"GTIN {vial.gtin}"]
    parts.append(f"lot {vial.lot}" if vial.lot else "no lot")
    parts.append(f"expiry {vial.expiry.isoformat()}" if vial.expiry else "no expiry")
    return ", ".join(parts)


def lookup_barcode(session: Session, barcode, now: datetime | None = None
                   ) -> tuple[gs1.ScannedVial, Ingredient]:
    """Read a barcode and find its ingredient by GTIN; refused (422 on ``barcode``) with
    what was read when the GTIN is unknown, the lot or expiry is missing, or the vial is
    past its expiry date (the receipt's own rule, said at look-up rather than on submit)."""
    vial = gs1.read_barcode(barcode)
    ing = session.execute(
        select(Ingredient).join(IngredientGtin).where(IngredientGtin.gtin == vial.gtin)
    ).scalar_one_or_none()
    read = describe_scan(vial)
    if ing is None:
        raise gs1.BarcodeError(msg("Unknown GTIN %(gtin)s: no ingredient carries it (read "
                                   "%(read)s).",
                                   gtin=vial.gtin, read=read))
    if not vial.lot or vial.expiry is None:
        raise gs1.BarcodeError(msg("This barcode lacks a lot or an expiry (read %(read)s): "
                                   "receive the vial with the form.",
                                   read=read))
    if (now or utcnow()) >= expiry_end(vial.expiry, clock.clinic_tz()):
        raise gs1.BarcodeError(msg("This lot expired on %(expiry)s: an expired lot is not "
                                   "received (read %(read)s).",
                                   expiry=vial.expiry, read=read))
    return vial, ing


_SCAN_FIELDS = {"lot_number", "expiry_date", "ingredient_id"}


def receive_scanned(session: Session, actor, *, barcode, quantity, unit_cost=None,
                    supplier="", now: datetime | None = None) -> Lot:
    """Receive a lot from a vial's GS1 barcode: ingredient by GTIN, lot and expiry from
    the barcode. Every refusal tied to what the barcode says (expired, recalled, another
    expiry for the same lot, unknown GTIN, bad check digit) is on ``barcode`` and names
    what was read."""
    vial, ing = lookup_barcode(session, barcode, now)
    try:
        return receive_lot(session, actor, ingredient=ing, lot_number=vial.lot,
                           expiry_date=vial.expiry, quantity=quantity, unit_cost=unit_cost,
                           supplier=supplier, now=now)
    except DomainError as exc:
        moved = {k: v for k, v in exc.fields.items() if k in _SCAN_FIELDS}
        if not moved:
            raise
        fields = {k: v for k, v in exc.fields.items() if k not in _SCAN_FIELDS}
        messages = [f"{m} (read {describe_scan(vial)})" for v in moved.values() for m in v]
        fields["barcode"] = messages
        refusal = type(exc)(messages[0], fields=fields)
        raise refusal from None


# --- adjusting and status ----------------------------------------------------------------

def adjust_lot(session: Session, actor, lot: Lot, *, quantity_delta, reason, note="") -> Movement:
    """Adjust a lot's quantity by a signed amount with a reason (``waste``, ``breakage``,
    ``count_correction``, ``return``, ``other``; a note is required for ``other``).
    Below zero: 409 ``insufficient_stock``, nothing written."""
    problems: dict[str, list[str]] = {}
    delta = None
    try:
        delta = parse_quantity(quantity_delta, "quantity_delta", allow_negative=True)
    except ValidationError as exc:
        problems.update(exc.fields)
    if not isinstance(reason, str) or reason not in ADJUSTMENT_REASONS:
        problems["reason"] = ["Choose a reason: " + ", ".join(ADJUSTMENT_REASONS) + "."]
    text = ""
    try:
        text = _text(note, "note", msg("Note"), required=reason == "other", max_length=NOTE_MAX)
    except ValidationError as exc:
        problems.update(exc.fields)
    if problems:
        raise ValidationError(next(iter(problems.values()))[0], fields=problems)
    locked = ledger.lock_lots(session, [lot.id]).get(lot.id)
    if locked is None:
        raise NotFound("No such lot.")
    before = locked.quantity_on_hand
    movement = ledger.post_movement(session, locked, delta, "adjustment", actor, reason=reason,
                                    note=text)
    session.flush()
    record(session, actor, "lot.adjust", "lot", locked.id,
           summary=f"Adjusted lot {locked.lot_number} by {delta} ({reason})",
           before={"quantity_on_hand": before},
           after={"quantity_on_hand": locked.quantity_on_hand, "movement_id": movement.id},
           reason=f"{reason}: {text}" if text else reason)
    return movement


def set_lot_status(session: Session, actor, lot: Lot, *, status, reason) -> Lot:
    """Quarantine, recall or release (back to ``available``) a lot, with a reason.
    A recalled lot stays recalled; setting the status a lot already has is refused.
    Recalling opens the lot's recall in the same transaction (``recalls.services``)."""
    problems: dict[str, list[str]] = {}
    if not isinstance(status, str) or status not in LOT_STATUSES:
        problems["status"] = ["Choose a status: " + ", ".join(LOT_STATUSES) + "."]
    text = ""
    try:
        text = _text(reason, "reason", msg("Reason"), required=True, max_length=REASON_MAX)
    except ValidationError as exc:
        problems.update(exc.fields)
    if problems:
        raise ValidationError(next(iter(problems.values()))[0], fields=problems)
    from formulary.compounding import tally

    # the batches made from the lot before the lot: an administration holds its batch,
    # then refers to the lot; this change's commit works out those batches again
    tally.lock_batches_of_lots(session, [lot.id])
    locked = ledger.lock_lots(session, [lot.id]).get(lot.id)
    if locked is None:
        raise NotFound("No such lot.")
    if locked.status == "recalled":
        raise InvalidState(msg("Lot %(lot_number)s is recalled; a recall is final.",
                               lot_number=locked.lot_number),
                           field="status")
    if locked.status == status:
        raise InvalidState(msg("Lot %(lot_number)s is already %(status)s.",
                               lot_number=locked.lot_number, status=code(status)), field="status")
    before = {"status": locked.status, "status_reason": locked.status_reason}
    locked.status = status
    locked.status_reason = text
    session.flush()
    verb, action = {"available": ("Released", "lot.release"),
                    "quarantined": ("Quarantined", "lot.quarantine"),
                    "recalled": ("Recalled", "lot.recall")}[status]
    record(session, actor, action, "lot", locked.id, summary=f"{verb} lot {locked.lot_number}",
           before=before, after={"status": status, "status_reason": text}, reason=text)
    if status == "recalled":
        open_recall(session, actor, locked, reason=text)
    return locked


__all__ = ["adjust_lot", "describe_scan", "lookup_barcode", "lot_snapshot", "parse_expiry",
           "receive_lot", "receive_scanned", "set_lot_status"]
