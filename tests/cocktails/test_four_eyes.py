"""Four eyes on formulations (SPEC §12): a version is approved by a pharmacist other than
its writer; in single-pharmacist mode the writer may approve by typing the cocktail's
name, and the audit entry says so. A refusal changes nothing."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from formulary.audit.models import AuditEntry
from formulary.cocktails import services
from formulary.cocktails.models import Cocktail
from formulary.domain.errors import InvalidState
from tests.cocktails.conftest import cocktail_input, comp


def _entries(session) -> int:
    return session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()


@pytest.fixture
def draft(session, shelf, pharmacist):
    cocktail = services.create_cocktail(session, pharmacist, cocktail_input(comp(shelf.biotin, "10", "mg")))
    session.commit()
    return cocktail


def test_the_writer_cannot_approve_and_nothing_changes(session, draft, pharmacist):
    before = _entries(session)
    with pytest.raises(InvalidState) as info:
        services.approve_cocktail(session, pharmacist, draft.id)
    assert "another pharmacist approves it" in info.value.message
    session.rollback()
    session.expire_all()
    got = session.get(Cocktail, draft.id)
    assert (got.status, got.versions[0].status, got.versions[0].approved_by_id) == ("draft", "draft", None)
    assert _entries(session) == before


def test_a_second_pharmacist_or_an_admin_approves(session, draft, colleague, make_user, shelf, pharmacist):
    version = services.approve_cocktail(session, colleague, draft.id)
    session.commit()
    assert (version.created_by_id, version.approved_by_id) == (pharmacist.id, colleague.id)
    services.update_cocktail(session, pharmacist, draft.id, cocktail_input(comp(shelf.biotin, "5", "mg")))
    admin = make_user("admin")
    assert services.approve_cocktail(session, admin, draft.id).approved_by_id == admin.id


def test_whoever_edits_a_draft_becomes_its_writer(session, draft, colleague, pharmacist, shelf):
    services.update_cocktail(session, colleague, draft.id, cocktail_input(comp(shelf.biotin, "20", "mg")))
    session.commit()
    with pytest.raises(InvalidState):
        services.approve_cocktail(session, colleague, draft.id)
    session.rollback()
    assert services.approve_cocktail(session, pharmacist, draft.id).approved_by_id == pharmacist.id


@pytest.mark.parametrize("typed", [None, "", "yes", "Scalp"])
def test_single_pharmacist_mode_needs_the_typed_name(session, draft, pharmacist, typed):
    before = _entries(session)
    with pytest.raises(InvalidState) as info:
        services.approve_cocktail(session, pharmacist, draft.id, single_pharmacist=True,
                                  confirm_self_approval=typed)
    assert "confirm_self_approval" in info.value.fields and "Scalp revive" in info.value.message
    session.rollback()
    assert session.get(Cocktail, draft.id).status == "draft" and _entries(session) == before


def test_single_pharmacist_self_approval_is_audited(session, draft, pharmacist):
    services.approve_cocktail(session, pharmacist, draft.id, single_pharmacist=True,
                              confirm_self_approval="  scalp   REVIVE ")
    session.commit()
    entry = session.execute(select(AuditEntry).where(AuditEntry.action == "cocktail.approve")).scalar_one()
    assert "by its own writer (single-pharmacist mode" in entry.summary
    assert entry.reason == "self-approval in single-pharmacist mode"
    assert json.loads(entry.after)["self_approved"] is True


def test_api_refuses_self_approval_then_accepts_the_confirmation(app, api, shelf, session):
    author = api("pharmacist")
    cid = author.post("cocktails", json={"name": "Face glow", "area": "face", "components": [
        {"ingredient_id": shelf.biotin.id, "amount": "10", "unit": "mg"}]}).json["id"]
    r = author.post(f"cocktails/{cid}/approve")
    assert r.status_code == 409 and r.json["error"]["code"] == "invalid_state"
    assert "four eyes" in r.json["error"]["message"]
    app.config["SINGLE_PHARMACIST_MODE"] = True
    r = author.post(f"cocktails/{cid}/approve", json={"confirm_self_approval": "Face"})
    assert r.status_code == 409 and "confirm_self_approval" in r.json["error"]["fields"]
    r = author.post(f"cocktails/{cid}/approve", json={"confirm_self_approval": 5})
    assert r.status_code == 422
    r = author.post(f"cocktails/{cid}/approve", json={"confirm_self_approval": "face glow"})
    assert r.status_code == 200 and r.json["status"] == "active"
    v = r.json["versions"][0]
    assert v["created_by"] == v["approved_by"] == author.user.username


def test_pages_show_writer_and_the_four_eyes_rule(app, client, login_as, session, shelf):
    me = login_as("pharmacist")
    cocktail = services.create_cocktail(session, me, cocktail_input(comp(shelf.biotin, "10", "mg")))
    session.commit()
    url = f"/cocktails/{cocktail.id}"
    page = client.get(url).text
    assert 'data-testid="four-eyes"' in page and f'data-testid="author">{me.display_name}<' in page
    refused = client.post_form(f"{url}/approve", {}, form_url=url)
    assert refused.status_code == 409 and "another pharmacist approves it" in refused.text
    app.config["SINGLE_PHARMACIST_MODE"] = True
    page = client.get(url).text
    assert 'data-testid="confirm-self-approval"' in page and 'data-testid="four-eyes"' not in page
    done = client.post_form(f"{url}/approve", {"approve-confirm_self_approval": "Scalp revive"},
                            form_url=url)
    assert done.status_code == 302
    session.expire_all()
    assert session.get(Cocktail, cocktail.id).status == "active"
