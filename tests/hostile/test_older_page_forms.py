"""Hostile values in every field of the older pages' forms (ingredients, receiving and GS1
scans, lots' adjustments and status, allergen groups, cocktails, patients and allergies,
batches, users and passwords, the profile's language, the delivery import), as an admin and
as a pharmacist: each form is read from its page as a browser would send it, then each
field is replaced in turn. A success, or a 4xx with a form error, a flash or an error
message; never a 500."""

from __future__ import annotations

import pytest
from html.parser import HTMLParser

from formulary.extensions import db

BAD = [("superscript", "²"), ("circled", "①"), ("fullwidth", "３"), ("huge", "9" * 30),
       ("past the column", "2147483648"), ("NUL", "a\x00b"), ("long", "x" * 5000),
       ("year 9999", "9999-12-31"), ("year 1", "0001-01-01"), ("1e400", "1e400"),
       ("NaN", "NaN"), ("zero-width", "\u200b"), ("two values", ["1", "2"])]


class _Forms(HTMLParser):
    """The POST forms of a page: action and fields with the values a browser would send."""

    def __init__(self):
        super().__init__()
        self.forms, self._form, self._select = [], None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "get").lower() == "post":
            self._form = {"action": a.get("action"), "fields": {}}
            self.forms.append(self._form)
        elif self._form is None or not a.get("name") and tag != "option":
            return
        elif tag in ("input", "textarea"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                self._form["fields"].setdefault(a["name"], None)
            elif a.get("type") != "file":
                self._form["fields"][a["name"]] = a.get("value") or ""
        elif tag == "select":
            self._select = a["name"]
            self._form["fields"].setdefault(self._select, None)
        elif tag == "option" and self._select and a.get("value"):
            if self._form["fields"].get(self._select) is None or "selected" in a:
                self._form["fields"][self._select] = a["value"]

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def _pages(w):
    c = w["clinic"]
    return [f"/users/{w['api'].user.id}", "/ingredients/new", f"/ingredients/{c['biotin'].id}/edit",
            f"/lots/{c['biotin_lot'].id}", "/receive", "/allergen-groups", "/cocktails/new",
            f"/cocktails/{c['cocktail'].id}", f"/patients/{w['ana'].id}", "/patients/new",
            f"/patients/{w['ana'].id}/edit", "/batches/new", f"/batches/{w['batch'].id}",
            "/users/new", "/profile", "/reports/"]


def _shows_why(text: str) -> bool:
    return any(mark in text for mark in ("is-invalid", "alert-danger", "invalid-feedback",
                                         'data-testid="error-message"', "import-problems"))


@pytest.mark.slow
def test_every_field_of_the_older_page_forms(world, app, client, login_as):
    app.config["PROPAGATE_UNEXPECTED"] = False  # collect every 500, then fail once
    failures, attacked = [], set()
    for role in ("admin", "pharmacist"):
        login_as(role)
        for page in _pages(world):
            r = client.get(page)
            if r.status_code != 200:
                continue  # not this role's page
            parser = _Forms()
            parser.feed(r.get_data(as_text=True))
            for form in parser.forms:
                action = form["action"] or page
                # a form both roles are shown is attacked once (its fields and their
                # checks are the same), as the first role that sees it
                if action in attacked or action.endswith("/logout"):
                    continue
                attacked.add(action)
                base = {k: v for k, v in form["fields"].items() if v is not None}
                for field in form["fields"]:
                    if field == "csrf_token":
                        continue
                    for label, value in BAD:
                        r = client.post(action, data={**base, field: value})
                        db.session.rollback()
                        what = f"{role} POST {action} {field}={label}"
                        if r.status_code >= 500:
                            failures.append(f"{what}: {r.status_code}")
                        elif r.status_code >= 400 and not _shows_why(r.get_data(as_text=True)):
                            failures.append(f"{what}: {r.status_code} without a message")
    assert len(attacked) >= 20, sorted(attacked)
    assert not failures, "\n".join(failures)


def test_a_second_discard_is_told_the_batch_is_discarded(world, app, client, login_as):
    """The page of a discarded batch no longer shows the form: a second click, even with
    no reason typed, is told why (409), not given a field error nobody sees."""
    from tests.hostile.conftest import table_counts

    login_as("pharmacist")
    url = f"/batches/{world['batch'].id}"
    token = client.csrf_token(url)
    r = client.post(f"{url}/discard", data={"csrf_token": token, "reason": "dropped"})
    assert r.status_code == 302
    before = table_counts()
    for reason in ("", "dropped again"):
        r = client.post(f"{url}/discard", data={"csrf_token": token, "reason": reason})
        text = r.get_data(as_text=True)
        assert r.status_code == 409 and "is already discarded" in text, (r.status_code, reason)
    assert table_counts() == before


def test_an_unknown_kind_of_allergy_is_shown_on_the_form(world, app, client, login_as):
    from tests.hostile.conftest import table_counts

    login_as("pharmacist")
    url = f"/patients/{world['ana'].id}"
    token = client.csrf_token(url)  # a read: audited
    before = table_counts()
    r = client.post(f"{url}/allergies", data={"csrf_token": token, "kind": "²",
                                              "substance": "latex", "severity": "mild"})
    assert r.status_code == 422
    assert 'data-error-for="kind"' in r.get_data(as_text=True)
    assert table_counts() == before
