"""A batch after its preparation (SPEC §12): its effective state in the API, the lists,
the batch page, the label and the dashboard; verify refused for an expired or on-hold
batch, with nothing written."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from formulary.audit.models import AuditEntry
from formulary.compounding import dashboard, services
from formulary.compounding.models import Batch
from formulary.compounding.state import state_clause, state_of
from formulary.db import utcnow
from formulary.domain.batch_state import STATES
from formulary.domain.errors import InvalidState
from formulary.extensions import db
from formulary.inventory import lots as lot_services
from formulary.inventory.models import Lot
from tests.compounding.conftest import TZ


def _audit_count() -> int:
    return db.session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()


@pytest.fixture
def fresh(session, stocked, pharmacist):
    """``fresh(cocktail=stocked, doses=1, now=utcnow())``: a batch prepared now, committed."""

    def make(cocktail=None, doses=1, *, at=None):
        batch = services.prepare_batch(session, pharmacist, cocktail=cocktail or stocked["cocktail"],
                                       doses=doses, tz=TZ, now=at or utcnow())
        session.commit()
        return batch

    return make


def _set_status(actor, lot, status, reason="supplier notice"):
    lot_services.set_lot_status(db.session, actor, db.session.get(Lot, lot.id), status=status,
                                reason=reason)
    db.session.commit()


def _state(batch_id):
    db.session.expire_all()
    return state_of(services.get_batch(db.session, batch_id)).state


def test_a_batch_of_two_lots_one_recalled_later_is_on_hold(fresh, stocked, pharmacist, api):
    batch = fresh()
    assert {line.lot.lot_number for line in batch.lines} == {"BIO-SOON", "LID-1"}
    assert _state(batch.id) == "prepared"
    _set_status(pharmacist, stocked["lido_lot"], "recalled")
    client = api("manager")
    body = client.get(f"batches/{batch.id}").json
    assert (body["status"], body["state"], body["doses_left"]) == ("prepared", "on_hold", 1)
    assert "LID-1 is recalled" in body["state_reason"]
    listed = client.get("batches?state=on_hold").json
    assert [b["id"] for b in listed["items"]] == [batch.id] and listed["total"] == 1
    assert client.get("batches?state=prepared").json["total"] == 0


def test_releasing_a_quarantined_lot_releases_only_batches_with_no_other_held_lot(
        fresh, stocked, pharmacist, make_cocktail):
    both = fresh()                                           # BIO-SOON + LID-1
    biotin_only = fresh(make_cocktail([(stocked["biotin"], "1", "mL")]))  # BIO-SOON
    _set_status(pharmacist, stocked["sooner"], "quarantined")
    _set_status(pharmacist, stocked["lido_lot"], "quarantined")
    assert (_state(both.id), _state(biotin_only.id)) == ("on_hold", "on_hold")
    _set_status(pharmacist, stocked["sooner"], "available", "count checked")
    assert (_state(both.id), _state(biotin_only.id)) == ("on_hold", "prepared")
    _set_status(pharmacist, stocked["lido_lot"], "available", "cleared")
    assert _state(both.id) == "prepared"


def test_a_recall_holds_for_good(fresh, stocked, pharmacist):
    batch = fresh()
    _set_status(pharmacist, stocked["lido_lot"], "quarantined")
    _set_status(pharmacist, stocked["lido_lot"], "recalled")
    with pytest.raises(InvalidState):
        _set_status(pharmacist, stocked["lido_lot"], "available")
    db.session.rollback()
    assert _state(batch.id) == "on_hold"


def test_expired_past_the_beyond_use_date(fresh, api):
    batch = fresh(at=utcnow() - timedelta(hours=25))  # fridge: 24 h
    body = api("pharmacist").get(f"batches/{batch.id}").json
    assert (body["state"], body["doses_left"]) == ("expired", 1)
    assert "beyond-use" in body["state_reason"]


@pytest.mark.parametrize("hold", ["expired", "on_hold"])
def test_verify_is_refused_with_the_reason_and_nothing_written(fresh, stocked, pharmacist, api, hold):
    batch = fresh(at=utcnow() - timedelta(hours=25)) if hold == "expired" else fresh()
    if hold == "on_hold":
        _set_status(pharmacist, stocked["lido_lot"], "quarantined")
    colleague = api("pharmacist")
    before = _audit_count()
    r = colleague.post(f"batches/{batch.id}/verify")
    assert r.status_code == 409 and r.json["error"]["code"] == "invalid_state"
    assert hold.replace("_", " ") in r.json["error"]["message"]
    db.session.expire_all()
    got = db.session.get(Batch, batch.id)
    assert (got.status, got.verified_by_id, got.verified_at) == ("prepared", None, None)
    assert _audit_count() == before


def test_verify_page_refuses_an_on_hold_batch(client, login_as, fresh, stocked, pharmacist):
    batch = fresh()
    _set_status(pharmacist, stocked["lido_lot"], "recalled")
    login_as("pharmacist")
    url = f"/batches/{batch.id}"
    page = client.get(url).get_data(as_text=True)
    assert 'data-testid="state-reason"' in page and "LID-1 is recalled" in page
    before = _audit_count()
    r = client.post_form(f"{url}/verify", {}, form_url=url)
    assert r.status_code == 409 and "on hold and cannot be verified" in r.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Batch, batch.id).status == "prepared" and _audit_count() == before


def test_label_of_an_unusable_batch_prints_do_not_use(client, login_as, fresh, stocked, pharmacist):
    good, held = fresh(), fresh()
    expired = fresh(at=utcnow() - timedelta(days=2))
    login_as("pharmacist")
    assert "DO NOT USE" not in client.get(f"/batches/{good.id}/label").get_data(as_text=True)
    html = client.get(f"/batches/{expired.id}/label").get_data(as_text=True)
    assert "DO NOT USE — Past its beyond-use date." in html
    _set_status(pharmacist, stocked["lido_lot"], "recalled")
    for layout in ("small", "a4"):
        html = client.get(f"/batches/{held.id}/label?layout={layout}").get_data(as_text=True)
        assert 'data-testid="do-not-use"' in html and "DO NOT USE" in html and "LID-1 is recalled" in html


def test_list_page_shows_and_filters_by_state(client, login_as, fresh, stocked, pharmacist):
    ok, old = fresh(), fresh(at=utcnow() - timedelta(days=3))
    login_as("manager")
    html = client.get("/batches?state=expired").get_data(as_text=True)
    assert old.batch_number in html and ok.batch_number not in html
    assert 'data-state="expired"' in html
    r = client.get("/batches?state=bogus")
    assert r.status_code == 422


def test_dashboard_counts_on_hold_and_expired(client, login_as, fresh, stocked, pharmacist):
    fresh(), fresh(at=utcnow() - timedelta(days=3))
    held = fresh()
    discarded = fresh(at=utcnow() - timedelta(days=3))
    services.discard_batch(db.session, pharmacist, discarded, "spilt")
    db.session.commit()
    _set_status(pharmacist, stocked["lido_lot"], "quarantined")  # holds every batch but ...
    login_as("manager")
    html = client.get("/dashboard").get_data(as_text=True)
    # every live batch used LID-1: three on hold (the expired one too), none merely expired
    assert ">3 on hold<" in html and ">0 expired, not given<" in html
    _set_status(pharmacist, stocked["lido_lot"], "available", "cleared")
    html = client.get("/dashboard").get_data(as_text=True)
    assert ">0 on hold<" in html and ">1 expired, not given<" in html
    assert held.id


def test_sql_filter_agrees_with_the_rule(fresh, stocked, pharmacist, make_cocktail, api):
    """Every batch is listed under exactly the state the pure rule gives it."""
    biotin_only = make_cocktail([(stocked["biotin"], "1", "mL")])
    made = [fresh(), fresh(at=utcnow() - timedelta(days=2)), fresh(biotin_only),
            fresh(biotin_only, at=utcnow() - timedelta(days=2)), fresh()]
    services.verify_batch(db.session, api("pharmacist").user, made[4])
    services.discard_batch(db.session, pharmacist, made[0], "spilt")
    db.session.commit()
    _set_status(pharmacist, stocked["lido_lot"], "quarantined")
    now = utcnow()
    db.session.expire_all()
    expected = {b.id: state_of(services.get_batch(db.session, b.id), now).state for b in made}
    assert set(expected.values()) == {"discarded", "on_hold", "prepared", "expired"}
    for state in STATES:
        ids = set(db.session.execute(select(Batch.id).where(state_clause(state, now))).scalars())
        assert ids == {i for i, s in expected.items() if s == state}, state
    # the dashboard's counts, taken another way (driven by held lots and administrations)
    states = list(expected.values())
    assert dashboard.held_and_expired(db.session, now) == (states.count("on_hold"),
                                                           states.count("expired"))


def test_lot_page_shows_status_changes_and_links_its_batches(client, login_as, fresh, stocked, pharmacist):
    batch = fresh()
    _set_status(pharmacist, stocked["lido_lot"], "quarantined", "cloudy vial")
    _set_status(pharmacist, stocked["lido_lot"], "available", "supplier cleared it")
    _set_status(pharmacist, stocked["lido_lot"], "recalled", "supplier recall 2026-12")
    login_as("manager")
    html = client.get(f"/lots/{stocked['lido_lot'].id}").get_data(as_text=True)
    history = html[html.index('data-testid="status-history"'):]
    assert [a for a in ("lot.quarantine", "lot.release", "lot.recall") if f'data-action="{a}"' in history] == \
        ["lot.quarantine", "lot.release", "lot.recall"]
    assert history.index("cloudy vial") < history.index("supplier cleared it") < history.index("supplier recall 2026-12")
    assert pharmacist.username in history
    assert f'href="/batches/{batch.id}" data-testid="ledger-batch"' in html  # ledger row -> batch
    page = client.get(f"/batches/{batch.id}").get_data(as_text=True)
    assert f'href="/lots/{stocked["lido_lot"].id}" data-testid="batch-lot"' in page  # batch -> lot
