"""The demo cocktails: loaded through the services, and each one can be built and
approved through the API from the demo clinic's ingredients."""

from __future__ import annotations

from formulary.cocktails import demo


def _shelf(session):
    from formulary.auth import demo as auth_demo
    from formulary.inventory import demo as inventory_demo

    ctx: dict = {}
    auth_demo.load(session, ctx)
    inventory_demo.load(session, ctx)
    session.commit()
    return ctx


def test_the_demo_loads_drafts_active_retired_and_a_pending_draft(session):
    ctx = _shelf(session)
    demo.load(session, ctx)
    session.commit()
    made = ctx["cocktails"]
    assert len(made) == len(demo.COCKTAILS)
    statuses = {c.status for c in made.values()}
    assert statuses == {"draft", "active", "retired"}
    pending = made["Hair vitality complex with lidocaine"]
    assert [(v.number, v.status) for v in pending.versions] == [(1, "active"), (2, "draft")]
    assert sum(1 for c in made.values() if c.versions[0].area == "scalp") >= 3


def test_every_demo_cocktail_can_be_built_and_approved_through_the_api(session, api):
    ctx = _shelf(session)
    client, colleague = api("pharmacist"), api("pharmacist")
    for name, area, indication, storage, components, _fate, notes in demo.COCKTAILS:
        created = client.post("cocktails", json={
            "name": name, "area": area, "indication": indication, "storage": storage, "notes": notes,
            "components": [{"ingredient_id": ctx["ingredients"][n].id, "amount": a, "unit": u}
                           for n, a, u in components]})
        assert created.status_code == 201, (name, created.json)
        approved = colleague.post(f"cocktails/{created.json['id']}/approve")  # four eyes
        assert approved.status_code == 200 and approved.json["status"] == "active"
