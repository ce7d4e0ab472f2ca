"""Fixtures of the accessibility tests: the demo clinic served over HTTP, and axe-core.

The demo data (``formulary.cli.load_demo``) is what a new user meets after ``make run``:
every role's pages have rows, links and forms to check."""

from __future__ import annotations

import pytest

from formulary.extensions import db

DEMO_ROLES = ("admin", "manager", "pharmacist", "practitioner")


@pytest.fixture
def demo_server(live_server):
    """``live_server`` with the demo clinic loaded (demo users, password ``formulary-admin``)."""
    from formulary.cli import load_demo

    with live_server.app.app_context():
        load_demo(db.session)
        db.session.commit()
    return live_server


def serious(results, always: tuple[str, ...] = ()) -> list[dict]:
    """The violations of impact serious or critical in an axe run, and those of the rules
    named in ``always`` whatever their impact, each with the selectors of its nodes (what a
    failing test prints)."""
    found = []
    for v in results.response["violations"]:
        if v.get("impact") in ("serious", "critical") or v["id"] in always:
            found.append({"id": v["id"], "impact": v["impact"], "help": v["help"],
                          "nodes": [" ".join(map(str, n["target"])) + " :: " + n.get("failureSummary", "")[:200]
                                    for n in v["nodes"][:5]]})
    return found
