"""The 62 mm batch label, rendered by Chromium and measured: every field on one line
(cut with an ellipsis when it is too long), nothing outside the 62 mm, the QR code
inside, and the DO NOT USE banner on a batch that may not be used.

The layout depends on the template and the style sheet only, not on the database: the
browser tests run on the SQLite file of the live server."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from formulary import clock
from formulary.cocktails.models import Cocktail, CocktailVersion, Component
from formulary.compounding import services
from formulary.extensions import db
from formulary.inventory.models import Ingredient, Lot, Movement
from formulary.patients.models import Patient

pytestmark = pytest.mark.browser

MM = 96 / 25.4          # CSS pixels in a millimetre
LABEL_MM = 62

LONG_COCKTAIL = "Scalp revitalising complex with biotin, dexpanthenol and organic silicon for diffuse hair loss"
LONG_INGREDIENT = "Dexpanthenol 250 mg/mL preservative-free solution for injection, 2 mL ampoule"


def _clinic(app, *, long_names: bool) -> dict:
    """Two ingredients (one dosed in mg through its strength), a cocktail, a patient, and
    two batches: one fresh, one prepared three days ago (past its beyond-use date)."""
    from formulary.auth import services as auth_services

    with app.app_context():
        today = clock.today()
        biotin = Ingredient(name="Biotin 5 mg/mL", name_key="biotin 5 mg/ml", category="vitamin",
                            unit="mL", strength_amount=Decimal("5"), strength_unit="mg")
        other_name = LONG_INGREDIENT if long_names else "Lidocaine 2%"
        other = Ingredient(name=other_name, name_key=other_name.casefold(), category="vitamin", unit="mL")
        rows = []
        for ing, number in ((biotin, "BIO-1"), (other, "OTH-1")):
            q = Decimal("50")
            lot = Lot(ingredient=ing, lot_number=number, expiry_date=today + timedelta(days=300),
                      quantity_received=q, quantity_on_hand=q, status="available")
            rows += [lot, Movement(lot=lot, kind="receipt", quantity_delta=q, balance_after=q)]
        name = LONG_COCKTAIL if long_names else "Scalp biotin"
        cocktail = Cocktail(name=name, name_key=name.casefold(), status="active")
        version = CocktailVersion(cocktail=cocktail, number=3, area="scalp", storage="fridge",
                                  status="active")
        version.components.append(Component(ingredient=biotin, position=0, amount=Decimal("10"),
                                            unit="mg", stock_quantity=Decimal("2"), stock_unit="mL"))
        version.components.append(Component(ingredient=other, position=1, amount=Decimal("0.5"),
                                            unit="mL", stock_quantity=Decimal("0.5"), stock_unit="mL"))
        patient = Patient(mrn="MRN-0042-7781", first_name="Marie-Antoinette Josèphe" if long_names else "Bea",
                          last_name="de Habsbourg-Lorraine de Bourbon" if long_names else "Rowser",
                          allergy_status="none_known")
        db.session.add_all([biotin, other, *rows, cocktail, version, patient])
        db.session.flush()
        cocktail.active_version = version
        user = auth_services.create_user(db.session, "test", username="labeller", password="x" * 12,
                                         role="pharmacist", full_name="Paula Pharmacist")
        db.session.flush()
        now = clock.now()
        fresh = services.prepare_batch(db.session, user, cocktail=cocktail, doses=4, patient=patient,
                                       now=now, tz=clock.clinic_tz())
        old = services.prepare_batch(db.session, user, cocktail=cocktail, doses=2, patient=patient,
                                     now=now - timedelta(days=3), tz=clock.clinic_tz())
        db.session.commit()
        return {"fresh": fresh.id, "old": old.id, "number": fresh.batch_number}


MEASURE = """() => {
  const label = document.querySelector('[data-testid=label]');
  const box = label.getBoundingClientRect();
  const fields = [...label.querySelectorAll('[data-field]')].map(el => {
    const r = el.getBoundingClientRect();
    const cs = getComputedStyle(el);
    // every piece of text inside: on how many lines its boxes lie (one text may come
    // in several boxes on one line, a run per font, whose tops differ by a pixel or two)
    const inline = [...el.querySelectorAll('span, h1')].map(s => {
      const rects = [...s.getClientRects()];
      if (!rects.length) return 0;
      const extent = Math.max(...rects.map(q => q.bottom)) - Math.min(...rects.map(q => q.top));
      return Math.round(extent / (parseFloat(getComputedStyle(s).fontSize) * 1.25));
    });
    return {field: el.dataset.field, text: el.innerText, left: r.left, right: r.right,
            height: r.height, lineHeight: parseFloat(cs.lineHeight) * Math.max(1, ...[...el.querySelectorAll('h1')].map(h => parseFloat(getComputedStyle(h).fontSize) / parseFloat(cs.fontSize))),
            cut: el.scrollWidth > el.clientWidth + 0.5 ||
                 [...el.querySelectorAll('.ing')].some(s => s.scrollWidth > s.clientWidth + 0.5),
            ellipsis: cs.textOverflow, whiteSpace: cs.whiteSpace, maxLines: Math.max(1, ...inline)};
  });
  const qr = label.querySelector('[data-testid=qr] svg').getBoundingClientRect();
  return {label: {left: box.left, right: box.right, width: box.width, top: box.top, bottom: box.bottom},
          qr: {left: qr.left, right: qr.right, top: qr.top, bottom: qr.bottom, width: qr.width},
          fields};
}"""


def _check_layout(m: dict) -> None:
    label = m["label"]
    assert label["width"] <= LABEL_MM * MM + 0.5, f"the label is {label['width'] / MM:.1f} mm wide"
    for f in m["fields"]:
        where = f"{f['field']} ({f['text']!r})"
        assert f["maxLines"] == 1 and f["whiteSpace"] == "nowrap", f"{where} wraps"
        assert f["height"] <= 1.5 * f["lineHeight"], f"{where} is {f['height']:.1f}px high"
        assert f["left"] >= label["left"] - 0.5 and f["right"] <= label["right"] + 0.5, \
            f"{where} runs outside the label"
        if f["cut"]:
            assert f["ellipsis"] == "ellipsis", f"{where} is cut without an ellipsis"
    qr = m["qr"]
    assert qr["left"] >= label["left"] and qr["right"] <= label["right"]
    assert qr["width"] >= 15 * MM, "the QR code is too small to scan"


def _open(page, batch_id: int):
    page.goto(f"/batches/{batch_id}/label")
    page.locator("[data-testid=label]").wait_for()


def test_the_62mm_label_holds_every_field_on_one_line(page):
    ids = _clinic(page.live.app, long_names=False)
    page.login("pharmacist")
    _open(page, ids["fresh"])
    label = page.locator("[data-testid=label]")
    text = label.inner_text()
    for expected in ("Scalp biotin", "v3", ids["number"], "Rowser, Bea", "MRN-0042-7781",
                     "Biotin 5 mg/mL", "10 mg = 2 mL", "Lidocaine 2%", "0.5 mL", "Refrigerate",
                     "Paula Pharmacist"):
        assert expected in text, expected
    assert page.locator("[data-testid=label-doses]").inner_text() == "4"
    assert page.locator("[data-testid=do-not-use]").count() == 0
    m = page.evaluate(MEASURE)
    _check_layout(m)
    by_field = {f["field"]: f for f in m["fields"]}
    # The fields a nurse reads at the bedside are whole, never cut:
    for name in ("batch", "patient", "mrn", "doses", "prepared", "bud", "storage", "cocktail"):
        assert not by_field[name]["cut"], f"{name} is cut: {by_field[name]['text']!r}"
    assert sum(f["field"] == "component" for f in m["fields"]) == 2
    # the prepared and use-before fields carry a date and a time
    for name in ("prepared", "bud"):
        assert len(by_field[name]["text"].split()[-2:]) == 2 and ":" in by_field[name]["text"]

    page.emulate_media(media="print")
    assert not page.locator(".label-tools").is_visible()
    _check_layout(page.evaluate(MEASURE))


def test_long_names_are_cut_with_an_ellipsis_and_the_banner_stays(page):
    ids = _clinic(page.live.app, long_names=True)
    page.login("pharmacist")
    _open(page, ids["fresh"])
    m = page.evaluate(MEASURE)
    _check_layout(m)
    by_field = {f["field"]: f for f in m["fields"]}
    assert by_field["cocktail"]["cut"] and by_field["patient"]["cut"]
    assert any(f["cut"] for f in m["fields"] if f["field"] == "component")
    for name in ("batch", "mrn", "bud", "prepared"):
        assert not by_field[name]["cut"], name

    # past its beyond-use date: DO NOT USE across the top, whole, inside the label
    _open(page, ids["old"])
    banner = page.locator("[data-testid=do-not-use]")
    assert banner.inner_text().startswith("DO NOT USE")
    m = page.evaluate(MEASURE)
    _check_layout(m)
    box = banner.bounding_box()
    assert box["x"] >= m["label"]["left"] and box["x"] + box["width"] <= m["label"]["right"] + 0.5
    assert box["y"] < m["qr"]["top"]
