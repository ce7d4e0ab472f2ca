"""Batches: preparing, verifying, discarding, tracing (SPEC §7).

One function per action; the actor is passed in; every change is audited; nothing here
commits (the request or CLI command does). The rules themselves live in the domain:
first-expiry-first picking (``domain.stock.pick_lots``), the beyond-use date
(``domain.beyond_use``) and batch numbers (``domain.batch_numbers``).

Concurrency of ``prepare_batch``: the candidate lots are locked through
``inventory.ledger.lock_lots`` (``SELECT ... FOR UPDATE`` in ascending id order on
PostgreSQL, so two preparations sharing lots queue and never deadlock; on SQLite the whole
write transaction began with ``BEGIN IMMEDIATE``) and re-read, and only then is the
first-expiry-first decision made, on fresh balances. Two pharmacists preparing at once
therefore never take more than a lot holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from formulary.audit.services import record
from formulary.cocktails.models import Cocktail, CocktailVersion, Component
from formulary.compounding.models import REASON_MAX, Batch, BatchLine
from formulary.compounding import tally
from formulary.compounding.state import check_usable
from formulary.db import utcnow
from formulary.domain import batch_numbers, idempotency
from formulary.domain.beyond_use import DEFAULT_POLICY, BeyondUse, beyond_use
from formulary.domain.doses import ComponentDose, check_preparable
from formulary.domain.errors import (IdempotencyMismatch, InsufficientStock, InvalidState,
                                     SafetyBlock, ValidationError)
from formulary.domain.idempotency import Preparation
from formulary.domain.messages import code, join_semicolons, msg
from formulary.domain.safety import ScreenResult
from formulary.domain.text import check_text
from formulary.domain.stock import Pick, pick_lots
from formulary.inventory import ledger
from formulary.inventory.ingredients import ingredient_facts
from formulary.inventory.models import Lot
from formulary.inventory.queries import lots_for_ingredients, to_lot_stock
from formulary.patients.models import Patient
from formulary.patients.screening import screen_patient

# Reading lives in queries.py; re-exported so callers find every batch action here.
from formulary.compounding.queries import (LotTrace, batch_list_query,  # noqa: F401
                                           batch_options, batches_query,
                                           get_batch, get_lot, local_day_bounds, trace_lot)

MAX_DOSES = 1000
MAX_REASON = REASON_MAX
MAX_KEY = 100
NUMBER_ATTEMPTS = 20


def policy_from_hours(hours: Mapping[str, float]) -> dict[str, timedelta]:
    """The clinic's beyond-use policy (app config ``BEYOND_USE_HOURS``) as timedeltas."""
    return {storage: timedelta(hours=h) for storage, h in hours.items()}


# --- checks ------------------------------------------------------------------------------

def check_doses(doses) -> int:
    """A positive whole number of doses (an int, or text of digits from a form)."""
    if isinstance(doses, str) and doses.strip().isdecimal():
        doses = int(doses.strip())
    if isinstance(doses, Decimal) and doses.is_finite() and doses == doses.to_integral_value():
        doses = int(doses)
    if isinstance(doses, bool) or not isinstance(doses, int) or doses <= 0:
        raise ValidationError("Doses must be a positive whole number.", field="doses")
    if doses > MAX_DOSES:
        raise ValidationError(msg("At most %(max_doses)s doses in one batch.",
                                  max_doses=MAX_DOSES), field="doses")
    return doses


def _clean_text(value, name: str, limit: int = MAX_REASON) -> str | None:
    """A reason (a visible letter or digit, SPEC §3) or the idempotency key; ``None`` when
    empty."""
    if value is None:
        return None
    label = {"idempotency_key": msg("Idempotency key"),
             "override_reason": msg("Override reason")}.get(name) or msg("Reason")
    return check_text(value, name, label, max_length=limit, multiline=True,
                      visible=name != "idempotency_key") or None


def active_version(cocktail: Cocktail) -> CocktailVersion:
    """The version a batch is made from: the cocktail's active one, else 409."""
    version = cocktail.active_version
    if cocktail.status != "active" or version is None or version.status != "active":
        raise InvalidState(msg("%(cocktail_name)s has no active version: only an active "
                               "cocktail can be prepared.",
                               cocktail_name=cocktail.name), field="cocktail_id")
    return version


def _components(session: Session, version: CocktailVersion) -> list[Component]:
    return list(session.execute(
        select(Component).options(joinedload(Component.ingredient))
        .where(Component.version_id == version.id).order_by(Component.position, Component.id)
    ).scalars())


def _check_ingredients(components: list[Component]) -> None:
    """Refuse (409) a version whose ingredients changed since its approval: one now
    inactive, or one whose current maximum dose per session its dose exceeds (SPEC §4)."""
    check_preparable(
        [ComponentDose(c.ingredient_id, c.amount, c.unit, c.stock_quantity, c.stock_unit)
         for c in components],
        {c.ingredient_id: ingredient_facts(c.ingredient) for c in components})


def _need(components: list[Component], doses: int) -> dict[int, Decimal]:
    need: dict[int, Decimal] = {}
    for c in components:
        need[c.ingredient_id] = need.get(c.ingredient_id, Decimal(0)) + c.stock_quantity * doses
    return need


def _shortfall_error(exc: InsufficientStock, components: list[Component]) -> InsufficientStock:
    """The domain's error, reworded with ingredient names and units for people."""
    names = {c.ingredient_id: (c.ingredient.name, c.ingredient.unit) for c in components}
    parts = []
    for ingredient_id, missing in exc.shortfalls.items():
        if ingredient_id in names:
            name, unit = names[ingredient_id]
            parts.append(msg("%(ingredient)s short by %(missing)s %(unit)s", ingredient=name,
                             missing=missing, unit=unit))
        else:
            parts.append(msg("ingredient %(id)s short by %(missing)s", id=ingredient_id,
                             missing=missing))
    return InsufficientStock(msg("Not enough usable stock: %(shortfalls)s. Nothing was taken.",
                                 shortfalls=join_semicolons(parts)),
                             shortfalls=exc.shortfalls, field="doses")


def _screen(session: Session, patient: Patient | None, version: CocktailVersion) -> ScreenResult | None:
    return None if patient is None else screen_patient(session, patient, version)


def _check_safety(result: ScreenResult | None, override_reason: str | None) -> str | None:
    """Refuse a blocked patient unless an override reason is given; the reason kept."""
    if result is None or result.verdict != "blocked":
        return None
    if not override_reason:
        raise SafetyBlock(msg("The safety screen blocks this cocktail for this patient. "
                              "%(findings)s Give an override reason to prepare it anyway.",
                              findings=tuple(f.message for f in result.blocks)),
                          findings=result.findings, field="override_reason")
    return override_reason


# --- the plan: what would be taken, shared by preview and prepare --------------------------

@dataclass
class Plan:
    version: CocktailVersion
    components: list[Component]
    doses: int
    picks: tuple[Pick, ...] = ()
    lots: dict[int, Lot] = field(default_factory=dict)
    beyond: BeyondUse | None = None
    screen: ScreenResult | None = None
    shortfalls: dict[int, Decimal] = field(default_factory=dict)
    error: str | None = None

    def picks_for(self, ingredient_id: int) -> list[tuple[Pick, Lot]]:
        return [(p, self.lots[p.lot_id]) for p in self.picks if p.ingredient_id == ingredient_id]


def _pick(plan: Plan, lots: dict[int, Lot], now: datetime, tz: tzinfo,
          policy: Mapping[str, timedelta]) -> None:
    stocks = {lot_id: to_lot_stock(lot) for lot_id, lot in lots.items()}
    picks = pick_lots(_need(plan.components, plan.doses), stocks.values(), now, tz)
    used = {p.lot_id for p in picks}
    plan.picks, plan.lots = picks, lots
    plan.beyond = beyond_use(now, plan.version.storage,
                             [stocks[i] for i in sorted(used)], tz, policy)


def preview_batch(session: Session, *, cocktail: Cocktail, doses, patient: Patient | None = None,
                  now: datetime | None = None, tz: tzinfo,
                  policy: Mapping[str, timedelta] = DEFAULT_POLICY) -> Plan:
    """What ``prepare_batch`` would do now, without writing or locking: the lots each
    component would be taken from, the beyond-use date and the safety verdict. A
    shortfall is reported on the plan (``shortfalls``, ``error``) rather than raised."""
    now = now or utcnow()
    doses = check_doses(doses)
    version = active_version(cocktail)
    components = _components(session, version)
    _check_ingredients(components)
    plan = Plan(version=version, components=components, doses=doses)
    plan.screen = _screen(session, patient, version)
    lots = {lot.id: lot for lot in lots_for_ingredients(session, [c.ingredient_id for c in components])}
    try:
        _pick(plan, lots, now, tz, policy)
    except InsufficientStock as exc:
        err = _shortfall_error(exc, components)
        plan.shortfalls, plan.error = err.shortfalls, err.message
    return plan


# --- prepare -----------------------------------------------------------------------------

def find_by_key(session: Session, actor, idempotency_key: str | None) -> Batch | None:
    if not idempotency_key:
        return None
    return session.execute(select(Batch).where(
        Batch.prepared_by_id == actor.id, Batch.idempotency_key == idempotency_key)
    ).scalar_one_or_none()


def _replay(existing: Batch, asked: Preparation) -> Batch:
    """The batch made the first time with this key, when ``asked`` is the same request;
    else 409 idempotency_mismatch (nothing is written)."""
    made = Preparation(existing.cocktail_id, existing.doses, existing.patient_id,
                       existing.override_reason)
    changed = idempotency.differences(made, asked)
    if changed:
        raise IdempotencyMismatch(
            msg("This idempotency key was already used to prepare batch %(batch_number)s, "
                "and this request differs from that one in: %(fields)s. Nothing was "
                "prepared; a different batch needs a new key (on the page: preview it again).",
                batch_number=existing.batch_number, fields=', '.join(changed)),
            field="idempotency_key")
    existing.replayed = True
    return existing


def _next_number(session: Session, day: date) -> str:
    prefix = batch_numbers.batch_number_prefix(day)
    numbers = session.execute(select(Batch.batch_number).where(
        Batch.batch_number.like(prefix + "%"))).scalars()
    highest = 0
    for number in numbers:
        try:
            highest = max(highest, batch_numbers.parse_batch_number(number)[1])
        except ValueError:
            continue
    return batch_numbers.format_batch_number(day, highest + 1)


def _insert_numbered(session: Session, actor, batch: Batch, day: date) -> Batch | None:
    """Give the batch the next number of the day; a clash with a batch committed meanwhile
    (the unique constraint) is retried in a SAVEPOINT with the next number. Answers the
    batch already made when the clash is on the idempotency key (a racing retry)."""
    for _ in range(NUMBER_ATTEMPTS):
        batch.batch_number = _next_number(session, day)
        try:
            with session.begin_nested():
                session.add(batch)
                session.flush()
            return None
        except IntegrityError as exc:
            if batch in session:
                session.expunge(batch)
            if "idempotency" in str(exc.orig).lower():
                existing = find_by_key(session, actor, batch.idempotency_key)
                if existing is not None:
                    return existing
                raise
    raise InvalidState("Could not number the batch: too many batches at once. Try again.")


def prepare_batch(session: Session, actor, *, cocktail: Cocktail, doses, patient: Patient | None = None,
                  override_reason: str | None = None, idempotency_key: str | None = None,
                  now: datetime | None = None, tz: tzinfo,
                  policy: Mapping[str, timedelta] = DEFAULT_POLICY) -> Batch:
    """Prepare ``doses`` doses of ``cocktail``'s active version, optionally for ``patient``.

    Refused: a cocktail with no active version (409 invalid_state), an ingredient that is
    now inactive or whose current maximum dose per session the version's dose exceeds
    (409 invalid_state, naming it), doses that are not a
    positive whole number (422), a patient the safety screen blocks without an override
    reason (409 safety_block, with the findings), not enough usable stock for any
    component (409 insufficient_stock, with the shortfall per ingredient; nothing taken).
    The same ``(actor, idempotency_key)`` with the same request answers the batch made the
    first time, with ``batch.replayed`` true; with another cocktail, doses, patient or
    override reason it is refused (409 idempotency_mismatch; ``domain.idempotency``).
    """
    now = now or utcnow()
    key = _clean_text(idempotency_key, "idempotency_key", MAX_KEY)
    doses = check_doses(doses)
    override_reason = _clean_text(override_reason, "override_reason")
    asked = Preparation(cocktail.id, doses, patient.id if patient is not None else None,
                        override_reason)
    existing = find_by_key(session, actor, key)
    if existing is not None:
        return _replay(existing, asked)
    version = active_version(cocktail)
    components = _components(session, version)
    if not components:
        raise InvalidState("This cocktail version has no component.", field="cocktail_id")
    _check_ingredients(components)
    plan = Plan(version=version, components=components, doses=doses)
    plan.screen = _screen(session, patient, version)
    override_reason = _check_safety(plan.screen, override_reason)

    candidates = lots_for_ingredients(session, [c.ingredient_id for c in components])
    lots = ledger.lock_lots(session, [lot.id for lot in candidates])
    # Under the lock: a retry racing the first request (same key) finds its batch now.
    existing = find_by_key(session, actor, key)
    if existing is not None:
        return _replay(existing, asked)
    try:
        _pick(plan, lots, now, tz, policy)
    except InsufficientStock as exc:
        raise _shortfall_error(exc, components) from None

    batch = Batch(cocktail_id=cocktail.id, cocktail_version_id=version.id, doses=doses,
                  patient_id=patient.id if patient is not None else None,
                  prepared_by_id=actor.id, prepared_at=now, beyond_use_at=plan.beyond.at,
                  beyond_use_reason=plan.beyond.reason[:200], status="prepared",
                  safety_verdict=plan.screen.verdict if plan.screen else None,
                  override_reason=override_reason, idempotency_key=key)
    existing = _insert_numbered(session, actor, batch, now.astimezone(tz).date())
    if existing is not None:
        return _replay(existing, asked)
    units = {c.ingredient_id: c.ingredient.unit for c in components}
    for pick in plan.picks:
        lot = lots[pick.lot_id]
        ledger.post_movement(session, lot, -pick.quantity, "batch_use", actor,
                             batch_id=batch.id, at=now, note=batch.batch_number)
        if pick.opens and lot.opened_at is None:
            lot.opened_at = now
        batch.lines.append(BatchLine(ingredient_id=pick.ingredient_id, lot_id=lot.id,
                                     quantity=pick.quantity, unit=units[pick.ingredient_id]))
    session.flush()
    record(session, actor, "batch.prepare", "batch", batch.id,
           summary=f"Prepared {batch.batch_number}: {doses} dose(s) of {cocktail.name} "
                   f"v{version.number}" + (" (safety override)" if override_reason else ""),
           after=batch_snapshot(batch), reason=override_reason)
    batch.replayed = False
    return batch


def batch_snapshot(batch: Batch) -> dict:
    return {"batch_number": batch.batch_number, "cocktail_id": batch.cocktail_id,
            "cocktail_version_id": batch.cocktail_version_id, "doses": batch.doses,
            "patient_id": batch.patient_id, "status": batch.status,
            "beyond_use_at": batch.beyond_use_at, "safety_verdict": batch.safety_verdict,
            "override_reason": batch.override_reason,
            "lines": [{"lot_id": line.lot_id, "ingredient_id": line.ingredient_id,
                       "quantity": line.quantity, "unit": line.unit} for line in batch.lines]}


# --- verify, discard ----------------------------------------------------------------------
#
# A state change is one conditional UPDATE: ``... WHERE id = :id AND status = :seen``, the
# status the checks were made on. Of two racing changes (two verifications, two discards,
# a discard and a verification) the second one's UPDATE finds the row changed (on
# PostgreSQL it waits for the first to commit, then re-reads the row) and changes
# nothing: it is refused with 409 invalid_state and writes no audit entry. On SQLite the
# writers already queue (BEGIN IMMEDIATE); the later one fails the checks themselves.

def _change_status(session: Session, batch: Batch, seen: str, values: dict) -> bool:
    """Set ``values`` on ``batch`` if its status is still ``seen``; True when this call
    changed it. The object is expired either way, so it reads what the database holds."""
    changed = session.execute(
        update(Batch).where(Batch.id == batch.id, Batch.status == seen)
        .values(**values).execution_options(synchronize_session=False)).rowcount
    session.expire(batch)
    tally.note_batch(session, batch.id)  # a Core UPDATE: no flush notes it
    return changed == 1


def _check_verifiable(batch: Batch, actor) -> None:
    if batch.status != "prepared":
        raise InvalidState(msg("Batch %(batch_number)s is %(status)s; only a prepared "
                               "batch can be verified.",
                               batch_number=batch.batch_number, status=code(batch.status)))
    if batch.prepared_by_id == actor.id:
        raise InvalidState("A batch is verified by a second pharmacist, not by the one "
                           "who prepared it.")


def _check_discardable(batch: Batch) -> None:
    if batch.status == "discarded":
        raise InvalidState(msg("Batch %(batch_number)s is already discarded.",
                               batch_number=batch.batch_number))


def _refused(batch: Batch, check) -> InvalidState:
    """The error of a change another request beat: the checks again, on the fresh row."""
    try:
        check(batch)
    except InvalidState as exc:
        return exc
    return InvalidState(msg("Batch %(batch_number)s was changed by someone else meanwhile "
                            "(it is %(status)s). Nothing was changed; look again and "
                            "retry.",
                            batch_number=batch.batch_number, status=code(batch.status)))


def verify_batch(session: Session, actor, batch: Batch, *, now: datetime | None = None) -> Batch:
    """A second pharmacist checks a prepared batch; never the one who prepared it, and
    never one that is expired or on hold (``state.check_usable``). Refused (409
    invalid_state) when the batch is no longer prepared, also when another request
    changed it since it was read."""
    _check_verifiable(batch, actor)
    check_usable(batch, msg("verified"), now)
    if not _change_status(session, batch, "prepared", {
            "status": "verified", "verified_by_id": actor.id, "verified_at": now or utcnow()}):
        raise _refused(batch, lambda b: _check_verifiable(b, actor))
    record(session, actor, "batch.verify", "batch", batch.id,
           summary=f"Verified {batch.batch_number}", before={"status": "prepared"},
           after={"status": "verified", "verified_by_id": actor.id})
    return batch


def discard_batch(session: Session, actor, batch: Batch, reason, *,
                  now: datetime | None = None) -> Batch:
    """Discard a batch with a reason. Its stock is not returned to the lots. Refused
    (409 invalid_state) when it is already discarded, and when another request changed
    its status since it was read (the discard was decided on a state that is gone)."""
    _check_discardable(batch)  # a second click says so, whatever its reason
    reason = _clean_text(reason, "reason")
    if not reason:
        raise ValidationError("Give the reason for discarding the batch.", field="reason")
    seen = batch.status
    if not _change_status(session, batch, seen, {
            "status": "discarded", "discarded_by_id": actor.id,
            "discarded_at": now or utcnow(), "discard_reason": reason}):
        raise _refused(batch, _check_discardable)
    record(session, actor, "batch.discard", "batch", batch.id,
           summary=f"Discarded {batch.batch_number}", before={"status": seen},
           after={"status": "discarded"}, reason=reason)
    return batch
