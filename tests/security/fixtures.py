"""One object of each kind the API's id routes reach (id 1 of each table), for the
security tests and schemathesis."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from formulary.extensions import db


def seed_objects(request) -> dict:
    """An allergen group, two ingredients, a lot of each, an active cocktail, a patient with
    an allergy and a prepared batch; made by a pharmacist."""
    from formulary.compounding import services as compounding

    make_group = request.getfixturevalue("make_group")
    make_ingredient = request.getfixturevalue("make_ingredient")
    make_lot = request.getfixturevalue("make_lot")
    make_cocktail = request.getfixturevalue("make_cocktail")
    make_patient = request.getfixturevalue("make_patient")
    make_user = request.getfixturevalue("make_user")
    group = make_group("Local anesthetics")
    biotin = make_ingredient("Biotin 5 mg/mL", unit="mL")
    lido = make_ingredient("Lidocaine 2%", unit="mL", category="anesthetic",
                           groups=["Local anesthetics"])
    lot = make_lot(biotin, "50", expiry=date.today() + timedelta(days=300))
    make_lot(lido, "50", expiry=date.today() + timedelta(days=300))
    cocktail = make_cocktail([(biotin, "1", "mL"), (lido, "0.5", "mL")], name="Scalp biotin")
    patient = make_patient(allergies=[{"substance": "latex"}])
    pharmacist = make_user("pharmacist")
    batch = compounding.prepare_batch(db.session, pharmacist, cocktail=cocktail, doses=1,
                                      tz=ZoneInfo("Europe/Paris"))
    db.session.commit()
    return {"group": group, "ingredient": biotin, "lot": lot, "cocktail": cocktail,
            "patient": patient, "batch": batch, "pharmacist": pharmacist}


def table_counts() -> dict[str, int]:
    """The number of rows of every table: what a refused request must leave as it was."""
    from tests.rows import count_every_table

    db.session.rollback()
    return count_every_table()


def url_for_rule(rule, value: int | str = 1) -> str:
    import re

    return re.sub(r"<(?:(\w+):)?(\w+)>",
                  lambda m: str(value) if m.group(1) == "int" else "x", rule.rule)
