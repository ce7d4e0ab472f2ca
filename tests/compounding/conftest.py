"""Fixtures of the batch tests: a clinic clock and a stocked cocktail."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from formulary.compounding import services
from formulary.compounding.models import Batch, BatchLine
from formulary.extensions import db
from formulary.inventory.models import Lot, Movement
from tests.conftest import database_other_processes_open

TZ = ZoneInfo("Europe/Paris")
#: A fixed "now" for the rules that depend on it: 22 Nov 2026, 10:00 in Paris.
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=TZ)
TODAY = NOW.date()


def D(value) -> Decimal:
    return Decimal(str(value))


@pytest.fixture
def prepare(session):
    """``prepare(actor, cocktail, doses, **kw)``: the service at ``NOW`` in Paris, committed."""

    def run(actor, cocktail, doses=1, *, commit=True, **kw):
        kw.setdefault("now", NOW)
        batch = services.prepare_batch(session, actor, cocktail=cocktail, doses=doses, tz=TZ, **kw)
        if commit:
            session.commit()
        return batch

    return run


@pytest.fixture
def pharmacist(make_user):
    return make_user("pharmacist")


@pytest.fixture
def stocked(make_ingredient, make_lot, make_cocktail):
    """Biotin (mL, two lots), lidocaine (mL, one lot), an active cocktail of both:
    1 mL biotin + 0.5 mL lidocaine per dose."""
    biotin = make_ingredient("Biotin 5 mg/mL", unit="mL")
    lido = make_ingredient("Lidocaine 2%", unit="mL", category="anesthetic")
    later = make_lot(biotin, "10", expiry=TODAY + timedelta(days=200), lot_number="BIO-LATE")
    sooner = make_lot(biotin, "3", expiry=TODAY + timedelta(days=100), lot_number="BIO-SOON")
    lido_lot = make_lot(lido, "20", expiry=TODAY + timedelta(days=300), lot_number="LID-1")
    cocktail = make_cocktail([(biotin, "1", "mL"), (lido, "0.5", "mL")], name="Scalp biotin")
    return {"biotin": biotin, "lido": lido, "later": later, "sooner": sooner,
            "lido_lot": lido_lot, "cocktail": cocktail}


def on_hand(lot) -> Decimal:
    return db.session.execute(select(Lot.quantity_on_hand).where(Lot.id == lot.id)).scalar_one()


def counts() -> tuple[int, int, int]:
    """(batches, batch lines, movements): to show a refused action wrote nothing."""
    return tuple(db.session.execute(select(func.count()).select_from(m)).scalar_one()
                 for m in (Batch, BatchLine, Movement))

@pytest.fixture
def race_app(backend, tmp_path, request):
    """The app the race runs on: PostgreSQL (the ``app`` fixture's database) or a SQLite
    file that every connection shares."""
    yield from database_other_processes_open(backend, tmp_path, request, "race.db")
