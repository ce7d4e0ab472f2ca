"""The rules of SPEC §7 at the service level, against a real database."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from formulary.audit.models import AuditEntry
from formulary.compounding import services
from formulary.compounding.models import Batch
from formulary.domain.errors import InsufficientStock, InvalidState, SafetyBlock, ValidationError
from formulary.inventory.ledger import check_books
from formulary.inventory.models import Lot, Movement
from tests.compounding.conftest import NOW, TODAY, TZ, D, counts, on_hand


# --- first expiry first ------------------------------------------------------------------

def test_takes_the_lot_that_expires_first(stocked, pharmacist, prepare):
    batch = prepare(pharmacist, stocked["cocktail"], 2)
    lots = {line.lot.lot_number: line.quantity for line in batch.lines}
    assert lots == {"BIO-SOON": D(2), "LID-1": D(1)}
    assert on_hand(stocked["sooner"]) == D(1)
    assert on_hand(stocked["later"]) == D(10)


def test_splits_across_lots_when_the_first_is_short(stocked, pharmacist, prepare):
    batch = prepare(pharmacist, stocked["cocktail"], 5)
    biotin = [(line.lot.lot_number, line.quantity) for line in batch.lines
              if line.ingredient_id == stocked["biotin"].id]
    assert biotin == [("BIO-SOON", D(3)), ("BIO-LATE", D(2))]
    assert on_hand(stocked["sooner"]) == 0 and on_hand(stocked["later"]) == D(8)


def test_same_expiry_takes_the_oldest_receipt(make_ingredient, make_lot, make_cocktail,
                                              pharmacist, prepare):
    ing = make_ingredient(unit="mL")
    expiry = TODAY + timedelta(days=90)
    newer = make_lot(ing, "5", expiry=expiry, received_at=datetime(2026, 10, 1, tzinfo=timezone.utc))
    older = make_lot(ing, "5", expiry=expiry, received_at=datetime(2026, 9, 1, tzinfo=timezone.utc))
    batch = prepare(pharmacist, make_cocktail([(ing, "1", "mL")]), 1)
    assert [line.lot_id for line in batch.lines] == [older.id]
    assert on_hand(newer) == D(5)


@pytest.mark.parametrize("status, expiry_days", [
    ("quarantined", 100),   # a person put it aside
    ("recalled", 100),
    ("available", -1),      # expired yesterday
])
def test_unusable_lots_are_skipped(make_ingredient, make_lot, make_cocktail, pharmacist, prepare,
                                   status, expiry_days):
    ing = make_ingredient(unit="mL")
    bad = make_lot(ing, "50", expiry=TODAY + timedelta(days=expiry_days), status=status)
    good = make_lot(ing, "5", expiry=TODAY + timedelta(days=300))
    batch = prepare(pharmacist, make_cocktail([(ing, "1", "mL")]), 2)
    assert [line.lot_id for line in batch.lines] == [good.id]
    assert on_hand(bad) == D(50)


def test_a_lot_expiring_today_is_still_usable(make_ingredient, make_lot, make_cocktail,
                                              pharmacist, prepare):
    ing = make_ingredient(unit="mL")
    lot = make_lot(ing, "5", expiry=TODAY)
    batch = prepare(pharmacist, make_cocktail([(ing, "1", "mL")]), 1)
    assert batch.lines[0].lot_id == lot.id


# --- not enough stock ----------------------------------------------------------------------

def test_shortfall_names_each_short_ingredient_and_takes_nothing(stocked, pharmacist, prepare, session):
    before = counts()
    with pytest.raises(InsufficientStock) as info:
        prepare(pharmacist, stocked["cocktail"], 14)  # biotin 14 of 13; lidocaine 7 of 20
    session.rollback()
    assert info.value.shortfalls == {stocked["biotin"].id: D(1)}
    assert "Biotin 5 mg/mL short by 1 mL" in info.value.message
    assert counts() == before
    assert on_hand(stocked["sooner"]) == D(3) and on_hand(stocked["later"]) == D(10)
    assert on_hand(stocked["lido_lot"]) == D(20)


def test_shortfall_of_two_ingredients(stocked, pharmacist, prepare, session):
    with pytest.raises(InsufficientStock) as info:
        prepare(pharmacist, stocked["cocktail"], 50)
    assert info.value.shortfalls == {stocked["biotin"].id: D(37), stocked["lido"].id: D(5)}


# --- multi-dose vials ----------------------------------------------------------------------

def test_first_draw_opens_a_multi_dose_lot(make_ingredient, make_lot, make_cocktail, pharmacist,
                                           prepare):
    ing = make_ingredient(unit="mL", multi_dose=True)
    lot = make_lot(ing, "10")
    cocktail = make_cocktail([(ing, "1", "mL")])
    prepare(pharmacist, cocktail, 1)
    assert lot.opened_at == NOW
    prepare(pharmacist, cocktail, 1, now=NOW + timedelta(days=3))
    assert lot.opened_at == NOW  # the second draw does not reopen it


def test_single_use_lot_is_never_marked_opened(stocked, pharmacist, prepare):
    prepare(pharmacist, stocked["cocktail"], 1)
    assert stocked["sooner"].opened_at is None


def test_opened_lot_past_its_in_use_period_is_not_usable(make_ingredient, make_lot, make_cocktail,
                                                         pharmacist, prepare):
    ing = make_ingredient(unit="mL", multi_dose=True)
    stale = make_lot(ing, "10", opened_at=NOW - timedelta(days=28, minutes=1),
                     expiry=TODAY + timedelta(days=30))
    fresh = make_lot(ing, "10", expiry=TODAY + timedelta(days=300))
    batch = prepare(pharmacist, make_cocktail([(ing, "1", "mL")]), 1)
    assert [line.lot_id for line in batch.lines] == [fresh.id]
    assert on_hand(stale) == D(10)


def test_opened_lot_goes_first_and_limits_the_beyond_use(make_ingredient, make_lot, make_cocktail,
                                                         pharmacist, prepare):
    ing = make_ingredient(unit="mL", multi_dose=True, in_use_days=7)
    opened = make_lot(ing, "10", opened_at=NOW - timedelta(days=6, hours=20),
                      expiry=TODAY + timedelta(days=300), lot_number="OPEN")
    make_lot(ing, "10", expiry=TODAY + timedelta(days=100), lot_number="SEALED")
    batch = prepare(pharmacist, make_cocktail([(ing, "1", "mL")], storage="fridge"), 1)
    assert batch.lines[0].lot_id == opened.id
    assert batch.beyond_use_at == NOW + timedelta(hours=4)
    assert batch.beyond_use_reason.startswith("in-use period of lot OPEN")


# --- beyond-use date -----------------------------------------------------------------------

@pytest.mark.parametrize("storage, hours", [("fridge", 24), ("room", 12)])
def test_beyond_use_follows_the_storage_policy(make_ingredient, make_lot, make_cocktail,
                                               pharmacist, prepare, storage, hours):
    ing = make_ingredient(unit="mL")
    make_lot(ing, "5")
    batch = prepare(pharmacist, make_cocktail([(ing, "1", "mL")], storage=storage), 1)
    assert batch.beyond_use_at == NOW + timedelta(hours=hours)
    assert batch.beyond_use_reason.startswith(f"storage policy ({storage}")


def test_clinic_policy_is_used(make_ingredient, make_lot, make_cocktail, pharmacist, prepare):
    ing = make_ingredient(unit="mL")
    make_lot(ing, "5")
    policy = services.policy_from_hours({"room": 6, "fridge": 9})
    batch = prepare(pharmacist, make_cocktail([(ing, "1", "mL")], storage="fridge"), 1, policy=policy)
    assert batch.beyond_use_at == NOW + timedelta(hours=9)


def test_a_lot_expiring_tonight_sets_the_beyond_use(make_ingredient, make_lot, make_cocktail,
                                                    pharmacist, prepare):
    ing = make_ingredient(unit="mL")
    make_lot(ing, "5", expiry=TODAY, lot_number="TONIGHT")
    batch = prepare(pharmacist, make_cocktail([(ing, "1", "mL")], storage="fridge"), 1)
    assert batch.beyond_use_at == datetime(2026, 11, 23, 0, 0, tzinfo=TZ)
    assert batch.beyond_use_reason == "expiry of lot TONIGHT"


# --- the record ----------------------------------------------------------------------------

def test_batch_record_and_ledger(stocked, pharmacist, prepare, session):
    batch = prepare(pharmacist, stocked["cocktail"], 2)
    assert batch.batch_number == "B-20261122-0001"
    assert batch.status == "prepared" and batch.doses == 2
    assert batch.cocktail_version_id == stocked["cocktail"].active_version_id
    assert batch.prepared_by_id == pharmacist.id and batch.prepared_at == NOW
    moves = session.execute(select(Movement).where(Movement.batch_id == batch.id)
                            .order_by(Movement.id)).scalars().all()
    assert [(m.kind, m.quantity_delta) for m in moves] == [("batch_use", D(-2)), ("batch_use", D(-1))]
    assert check_books(session) == []
    audit = session.execute(select(AuditEntry).where(AuditEntry.action == "batch.prepare")).scalar_one()
    assert audit.object_id == str(batch.id) and audit.user_id == pharmacist.id


def test_batch_numbers_count_the_clinic_local_day(stocked, pharmacist, prepare):
    first = prepare(pharmacist, stocked["cocktail"], 1)
    second = prepare(pharmacist, stocked["cocktail"], 1)
    # 23:30 in Paris on the 22nd is the 22nd; 00:30 on the 23rd starts a new day
    late = prepare(pharmacist, stocked["cocktail"], 1, now=datetime(2026, 11, 22, 23, 30, tzinfo=TZ))
    next_day = prepare(pharmacist, stocked["cocktail"], 1, now=datetime(2026, 11, 23, 0, 30, tzinfo=TZ))
    assert [b.batch_number for b in (first, second, late, next_day)] == [
        "B-20261122-0001", "B-20261122-0002", "B-20261122-0003", "B-20261123-0001"]


# --- what may be prepared ------------------------------------------------------------------

@pytest.mark.parametrize("doses", [0, -1, "two", "1.5", 1.5, True, None, 1001])
def test_doses_must_be_a_positive_whole_number(stocked, pharmacist, prepare, doses):
    before = counts()
    with pytest.raises(ValidationError) as info:
        prepare(pharmacist, stocked["cocktail"], doses)
    assert "doses" in info.value.fields
    assert counts() == before


def test_only_an_active_cocktail_can_be_prepared(make_ingredient, make_lot, make_cocktail,
                                                 pharmacist, prepare):
    ing = make_ingredient(unit="mL")
    make_lot(ing, "5")
    draft = make_cocktail([(ing, "1", "mL")], status="draft")
    with pytest.raises(InvalidState):
        prepare(pharmacist, draft, 1)
    assert counts()[0] == 0


# --- the safety screen ---------------------------------------------------------------------

def test_blocked_patient_is_refused_without_an_override(stocked, pharmacist, prepare, make_patient,
                                                        session):
    patient = make_patient(conditions=("pregnant",))
    before = counts()
    with pytest.raises(SafetyBlock) as info:
        prepare(pharmacist, stocked["cocktail"], 1, patient=patient)
    session.rollback()
    assert any(f.kind == "contraindication" and f.level == "block" for f in info.value.findings)
    assert counts() == before and on_hand(stocked["sooner"]) == D(3)


def test_blocked_patient_with_an_override_reason(stocked, pharmacist, prepare, make_patient, session):
    patient = make_patient(conditions=("pregnant",))
    batch = prepare(pharmacist, stocked["cocktail"], 1, patient=patient,
                    override_reason="  Obstetrician agreed in writing  ")
    assert batch.override_reason == "Obstetrician agreed in writing"
    assert batch.safety_verdict == "blocked" and batch.patient_id == patient.id
    audit = session.execute(select(AuditEntry).where(AuditEntry.action == "batch.prepare")).scalar_one()
    assert audit.reason == "Obstetrician agreed in writing"


def test_caution_patient_is_prepared_with_the_verdict_kept(stocked, pharmacist, prepare, make_patient):
    patient = make_patient(allergy_status="unknown")
    batch = prepare(pharmacist, stocked["cocktail"], 1, patient=patient, override_reason="not needed")
    assert batch.safety_verdict == "caution" and batch.override_reason is None


def test_allergy_to_an_ingredient_blocks(stocked, pharmacist, prepare, make_patient):
    patient = make_patient(allergies=[{"ingredient": stocked["lido"], "severity": "severe"}])
    with pytest.raises(SafetyBlock):
        prepare(pharmacist, stocked["cocktail"], 1, patient=patient, override_reason="   ")


# --- idempotency ---------------------------------------------------------------------------

def test_same_idempotency_key_makes_one_batch(stocked, pharmacist, prepare, make_user):
    first = prepare(pharmacist, stocked["cocktail"], 2, idempotency_key="k-1")
    again = prepare(pharmacist, stocked["cocktail"], 2, idempotency_key="k-1")
    assert again.id == first.id and again.replayed
    assert counts()[0] == 1 and on_hand(stocked["sooner"]) == D(1)
    other = prepare(make_user("pharmacist"), stocked["cocktail"], 1, idempotency_key="k-1")
    assert other.id != first.id  # a key belongs to the pharmacist who sent it


# --- verify, discard -----------------------------------------------------------------------

def test_verified_by_a_second_pharmacist_only(stocked, pharmacist, prepare, make_user, session):
    batch = prepare(pharmacist, stocked["cocktail"], 1)
    with pytest.raises(InvalidState):
        services.verify_batch(session, pharmacist, batch)
    session.rollback()
    assert session.get(Batch, batch.id).status == "prepared"
    colleague = make_user("pharmacist")
    services.verify_batch(session, colleague, batch, now=NOW)
    session.commit()
    assert batch.status == "verified" and batch.verified_by_id == colleague.id
    with pytest.raises(InvalidState):
        services.verify_batch(session, make_user("pharmacist"), batch)


def test_discard_needs_a_reason_and_returns_no_stock(stocked, pharmacist, prepare, make_user, session):
    batch = prepare(pharmacist, stocked["cocktail"], 2)
    with pytest.raises(ValidationError) as info:
        services.discard_batch(session, pharmacist, batch, "  ")
    assert "reason" in info.value.fields
    session.rollback()
    services.discard_batch(session, pharmacist, batch, "Dropped on the floor")
    session.commit()
    assert batch.status == "discarded" and batch.discard_reason == "Dropped on the floor"
    assert on_hand(stocked["sooner"]) == D(1)  # not returned
    with pytest.raises(InvalidState):
        services.discard_batch(session, pharmacist, batch, "again")
    with pytest.raises(InvalidState):
        services.verify_batch(session, make_user("pharmacist"), batch)


# --- recall --------------------------------------------------------------------------------

def test_trace_lists_every_batch_and_patient_of_a_lot(stocked, pharmacist, prepare, make_patient,
                                                      session):
    ana, ben = make_patient(first_name="Ana"), make_patient(first_name="Ben", last_name="Zed")
    b1 = prepare(pharmacist, stocked["cocktail"], 2, patient=ana)
    b2 = prepare(pharmacist, stocked["cocktail"], 2, patient=ben)      # splits: SOON then LATE
    b3 = prepare(pharmacist, stocked["cocktail"], 2, patient=ana)      # LATE only
    trace = services.trace_lot(session, stocked["sooner"])
    assert {b.id for b in trace.batches} == {b1.id, b2.id}
    assert [p.id for p in trace.patients] == [ana.id, ben.id]
    trace = services.trace_lot(session, stocked["later"])
    assert {b.id for b in trace.batches} == {b2.id, b3.id}


# --- preview -------------------------------------------------------------------------------

def test_preview_shows_the_plan_and_writes_nothing(stocked, session, make_patient):
    before = counts()
    plan = services.preview_batch(session, cocktail=stocked["cocktail"], doses=5, now=NOW, tz=TZ,
                                  patient=make_patient(conditions=("pregnant",)))
    assert [(lot.lot_number, p.quantity) for p, lot in plan.picks_for(stocked["biotin"].id)] == [
        ("BIO-SOON", D(3)), ("BIO-LATE", D(2))]
    assert plan.beyond.at == NOW + timedelta(hours=24)
    assert plan.screen.verdict == "blocked"
    assert counts() == before and on_hand(stocked["sooner"]) == D(3)
    short = services.preview_batch(session, cocktail=stocked["cocktail"], doses=14, now=NOW, tz=TZ)
    assert short.shortfalls == {stocked["biotin"].id: D(1)} and "short by 1 mL" in short.error
