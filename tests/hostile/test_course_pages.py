"""Hostile forms posted to the course pages (SPEC §10, §11): numbers in other scripts
(superscripts, circled digits: ``str.isdigit`` says yes, ``int`` says no), ids that
overflow a column, impossible dates, NUL, text too long, forms of another object, a
missing CSRF token, and roles that may not. Each is a 4xx page with the form's error or
a flash, and not one row changes."""

from __future__ import annotations

import pytest

from formulary import clock
from tests.courses.scanfiles import pdf, png
from tests.hostile.conftest import harness_tempfiles, table_counts

TODAY = lambda: clock.today().isoformat()  # noqa: E731
NUMBERS = ["²", "①", "-1", "0", "99999999999999999999", "1e3", "1.5", "NaN", "", " ", "٣٣"]


def _cases():
    # (name, url(w), form_url(w) | None, data(w))
    give = lambda w: f"/sessions/{w['session']['id']}/give"  # noqa: E731
    base_give = lambda w, **kw: {"batch_id": str(w["batch"].id), "doses": "1",  # noqa: E731
                                 "site_area": "scalp", "site_description": "vertex",
                                 "technique": "nappage", **kw}
    for value in NUMBERS:
        yield (f"give doses {value!r}", give, None, lambda w, v=value: base_give(w, doses=v))
        yield (f"give batch {value!r}", give, None, lambda w, v=value: base_give(w, batch_id=v))
        if value.strip() and value not in ("0", "1.5"):
            yield (f"give depth {value!r}", give, None, lambda w, v=value: base_give(w, depth_mm=v))
        new = lambda w: (f"/courses/new?patient_id={w['ana'].id}"  # noqa: E731
                         f"&cocktail_id={w['clinic']['cocktail'].id}")
        for name in ("planned_sessions", "interval_days"):
            yield (f"new course {name} {value!r}", new, None, lambda w, n=name, v=value: {
                "planned_sessions": "6", "interval_days": "14", "start_date": TODAY(),
                "area": "scalp", "practitioner": w["api"].user.username, n: v})
        yield (f"consent text id {value!r}", lambda w: f"/courses/{w['course']['id']}/consent",
               lambda w: f"/courses/{w['course']['id']}",
               lambda w, v=value: {"consent_text_id": v, "consented_on": TODAY()})
    for value in ("2026-02-30", "0000-01-01", "9999-12-31", "31/12/2026x", "yesterday", "",
                  "2026-01-01\x00"):
        yield (f"move to {value!r}", lambda w: f"/sessions/{w['session']['id']}/move",
               lambda w: f"/courses/{w['course']['id']}", lambda w, v=value: {"planned_on": v})
        yield (f"consent on {value!r}", lambda w: f"/courses/{w['course']['id']}/consent",
               lambda w: f"/courses/{w['course']['id']}",
               lambda w, v=value: {"consent_text_id": str(w["text_id"]), "consented_on": v})
        yield (f"event onset {value!r}", lambda w: f"/administrations/{w['adm']['id']}/adverse-events",
               lambda w: f"/administrations/{w['adm']['id']}",
               lambda w, v=value: {"onset": v, "kind": "pain", "severity": "mild"})
    for value in ("", "   ", "\u200b", "--", "x" * 3000, "a\x00b"):
        yield (f"stop reason {value[:5]!r}", lambda w: f"/courses/{w['course']['id']}/stop",
               lambda w: f"/courses/{w['course']['id']}", lambda w, v=value: {"reason": v})
        yield (f"mark reason {value[:5]!r}", lambda w: f"/sessions/{w['session']['id']}/mark",
               lambda w: f"/courses/{w['course']['id']}",
               lambda w, v=value: {"status": "cancelled", "reason": v})
        yield (f"give sites {value[:5]!r}", give, None,
               lambda w, v=value: base_give(w, site_description=v))
    for value in ("given", "overdue", "planned", "", "x" * 50):
        yield (f"mark status {value[:5]!r}", lambda w: f"/sessions/{w['session']['id']}/mark",
               lambda w: f"/courses/{w['course']['id']}",
               lambda w, v=value: {"status": v, "reason": "patient ill"})
    for name, value in (("kind", "death"), ("severity", "deadly"), ("kind", "")):
        yield (f"event {name} {value!r}", lambda w: f"/administrations/{w['adm']['id']}/adverse-events",
               lambda w: f"/administrations/{w['adm']['id']}",
               lambda w, n=name, v=value: {"onset": TODAY(), "kind": "pain", "severity": "mild",
                                           n: v})
    yield ("give the other patient's batch", give, None,
           lambda w: base_give(w, batch_id=str(w["bea_batch"].id)))
    yield ("give more than is left at the session already given",
           lambda w: f"/sessions/{w['course']['sessions'][0]['id']}/give", None,
           lambda w: base_give(w, doses="3"))
    yield ("give technique unknown", give, None, lambda w: base_give(w, technique="laser"))
    yield ("give area unknown", give, None, lambda w: base_give(w, site_area="moon"))
    yield ("consent text of another area", lambda w: "/consent-texts", None,
           lambda w: {"area": "moon", "title": "T", "body": "I agree."})
    yield ("consent text empty title", lambda w: "/consent-texts", None,
           lambda w: {"area": "scalp", "title": " ", "body": "I agree."})
    yield ("withdraw in the future", lambda w: f"/courses/{w['course']['id']}/consent/withdraw",
           lambda w: f"/courses/{w['course']['id']}",
           lambda w: {"withdrawn_on": "2999-01-01", "reason": "changed her mind"})
    yield ("allergy from bruising", lambda w: f"/adverse-events/{w['event']['id']}/allergies",
           lambda w: f"/administrations/{w['adm']['id']}", lambda w: {})


CASES = list(_cases())
GROUPS = sorted({c[0].split()[0] for c in CASES})


def test_the_cases_cover_every_form():
    assert len(CASES) > 100 and len(GROUPS) >= 9


@pytest.mark.parametrize("group", GROUPS)
def test_a_hostile_form_is_refused_on_its_page_and_changes_nothing(world, app, client, login_as,
                                                                  group):
    w = world
    app.config["PROPAGATE_UNEXPECTED"] = False  # collect every finding, then fail once
    login_as("practitioner")
    failures = []
    for name, url, form_url, data in (c for c in CASES if c[0].split()[0] == group):
        token = client.csrf_token(form_url(w) if form_url else url(w))  # a read: audited
        before = table_counts()
        r = client.post(url(w), data={**data(w), "csrf_token": token})
        text = r.get_data(as_text=True)
        if not 400 <= r.status_code < 500:
            failures.append(f"{name}: {r.status_code}")
        elif "text/html" not in r.content_type or ("is-invalid" not in text
                                                   and "alert-danger" not in text
                                                   and "invalid-feedback" not in text
                                                   and 'data-testid="error-message"' not in text):
            failures.append(f"{name}: {r.status_code} without a form error or a flash")
        elif table_counts() != before:
            failures.append(f"{name}: rows changed")
    assert not failures, "\n".join(failures)


# --- uploads of the signed consent form ---------------------------------------------------

#: (case, bytes, file name, what is kept: None when refused, else the stored name). The
#: content decides the kind, so a real PDF named .png is kept as a PDF; a name is reduced
#: to safe ASCII; a file input left empty (no name) records the consent alone.
UPLOADS = [
    ("empty", b"", "consent.pdf", None),
    ("text named .pdf", b"I agree, signed Ana", "consent.pdf", None),
    ("HTML named .pdf", b"<html><script>alert(1)</script></html>", "consent.pdf", None),
    ("truncated PNG", png()[:20], "consent.png", None),
    ("oversize PDF", pdf() + b"0" * (10 * 1024 * 1024), "consent.pdf", None),
    ("PDF header only", b"%PDF-1.4\n", "consent.pdf", None),
    ("a PDF named .png", pdf(), "consent.png", "consent.pdf"),
    ("a name with a NUL", pdf(), "con\x00sent.pdf", "consent.pdf"),
    ("a name with a path", pdf(), "../../etc/passwd.pdf", "passwd.pdf"),
    ("a name with a quote", pdf(), 'a" b.pdf', "a.pdf"),  # the header ends at the quote
    ("no name", pdf(), "", "no scan"),
]


@pytest.mark.parametrize("name,content,filename,kept", UPLOADS, ids=[u[0] for u in UPLOADS])
def test_a_bad_scan_is_refused_with_the_consent(world, app, client, login_as, name, content,
                                                filename, kept):
    """Posted with a consent on a course that has none yet: refused, neither the consent
    nor the scan kept; or kept under a safe name of the kind its content is."""
    import io

    from formulary.courses.models import Consent, ConsentScan
    from formulary.extensions import db

    w = world
    app.config["PROPAGATE_UNEXPECTED"] = False
    login_as("practitioner")
    r = w["api"].post("courses", json={  # a course with no consent yet
        "patient_id": w["bea"].id, "cocktail_id": w["clinic"]["cocktail"].id,
        "planned_sessions": 3, "interval_days": 14, "start_date": TODAY()})
    assert r.status_code == 201, r.get_json()
    course = r.get_json()
    token = client.csrf_token(f"/courses/{course['id']}")  # a read: audited
    before = table_counts()
    with harness_tempfiles() as posted:
        r = client.post(f"/courses/{course['id']}/consent",
                        data={"consent_text_id": str(w["text_id"]), "consented_on": TODAY(),
                              "scan": (io.BytesIO(content), filename), "csrf_token": token},
                        content_type="multipart/form-data")
        posted.append(r)
    if kept is None:
        assert 400 <= r.status_code < 500, f"{name}: {r.status_code}"
        assert 'data-error-for="scan"' in r.get_data(as_text=True) or "invalid-feedback" in \
            r.get_data(as_text=True), name
        assert table_counts() == before, name
        return
    assert r.status_code == 302, f"{name}: {r.status_code}"
    consent = db.session.execute(db.select(Consent).where(Consent.course_id == course["id"])
                                 ).scalar_one()
    scan = db.session.execute(db.select(ConsentScan).where(ConsentScan.consent_id == consent.id)
                              ).scalar_one_or_none()
    if kept == "no scan":
        assert scan is None
    else:
        assert scan.filename == kept and scan.content_type == "application/pdf", scan.filename
        download = client.get(f"/consents/{consent.id}/scan")
        assert download.status_code == 200 and download.data == content
        assert download.headers["Content-Disposition"] == f'attachment; filename="{kept}"'
