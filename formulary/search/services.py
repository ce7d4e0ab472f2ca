"""Searching everything a person may see, from one box (issue 16).

``search(session, user, text)`` reads the query (``domain.search.read_query``):

- a scanned GS1 string with a lot (a vial): the lot of that GTIN and lot number, to be
  opened directly; when none is on file, a message says so and the ingredient of the
  GTIN is listed;
- a batch number (a batch label's QR code holds exactly that): the batch, opened directly;
- words: patients (name, MRN, date of birth: ``patients.services.matching``, the one place
  patients are matched), lots (number, or the GTIN of their ingredient), batches
  (number), cocktails (name), ingredients (name or GTIN).

Rights: patients only for a role that may read them (``PATIENTS``); cocktails other than
active ones only for a role that may edit them (the cocktail list's rule); stock and
batches are seen by every role. At most ``LIMIT`` hits per kind, each kind in the order of
its own list.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from formulary.auth.permissions import COCKTAILS_EDIT, PATIENTS, VIEW
from formulary.cocktails.models import Cocktail
from formulary.compounding.models import Batch
from formulary.display import code_word
from formulary.domain.search import SearchQuery, read_query
from formulary.domain.text import text_key
from formulary.i18n import _
from formulary.inventory.models import Ingredient, IngredientGtin, Lot
from formulary.patients import services as patient_services
from formulary.patients.models import Patient

LIMIT = 10
KINDS = ("patients", "lots", "batches", "cocktails", "ingredients")


@dataclass(frozen=True)
class Hit:
    kind: str     # "patient", "lot", "batch", "cocktail", "ingredient"
    id: int
    label: str    # what identifies it: name, lot number, batch number
    detail: str   # what tells two hits apart


@dataclass
class SearchResult:
    query: SearchQuery
    open: Hit | None = None          # the one thing a scan names, to open directly
    message: str | None = None       # why a scan opened nothing
    hits: dict[str, list[Hit]] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.hits.values())


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search(session: Session, user, text: str) -> SearchResult:
    """What ``text`` finds for ``user`` (see the module's docstring)."""
    query = read_query(text)
    result = SearchResult(query=query)
    if not query.text or not user.may(VIEW):
        return result
    if query.kind == "vial":
        return _vial(session, result)
    if query.kind == "batch":
        batch = session.execute(select(Batch.id, Batch.batch_number)
                                .where(Batch.batch_number == query.batch_number)).first()
        if batch is not None:
            result.open = Hit("batch", batch.id, batch.batch_number, "")
            result.hits["batches"] = [result.open]
        else:
            result.message = _("No batch %(number)s is on file.", number=query.batch_number)
        return result
    words = query.text
    if user.may(PATIENTS):
        result.hits["patients"] = _patients(session, words)
    result.hits["lots"] = _lots(session, words)
    result.hits["batches"] = _batches(session, words)
    result.hits["cocktails"] = _cocktails(session, words, every_status=user.may(COCKTAILS_EDIT))
    result.hits["ingredients"] = _ingredients(session, words)
    return result


def _vial(session: Session, result: SearchResult) -> SearchResult:
    vial = result.query.vial
    ingredients = list(session.execute(
        select(Ingredient.id, Ingredient.name).join(IngredientGtin, IngredientGtin.ingredient_id == Ingredient.id)
        .where(IngredientGtin.gtin == vial.gtin).order_by(Ingredient.name_key, Ingredient.id)))
    lots = list(session.execute(
        select(Lot.id, Lot.lot_number, Lot.expiry_date, Ingredient.name).join(Lot.ingredient)
        .where(Lot.ingredient_id.in_([i.id for i in ingredients]), Lot.lot_number == vial.lot)
        .order_by(Lot.id)))
    result.hits["lots"] = [Hit("lot", r.id, r.lot_number, _("%(name)s · expires %(date)s", name=r.name,
                                                            date=r.expiry_date.isoformat()))
                           for r in lots]
    result.hits["ingredients"] = [Hit("ingredient", i.id, i.name, f"GTIN {vial.gtin}")
                                  for i in ingredients]
    if len(lots) == 1:
        result.open = result.hits["lots"][0]
    elif not ingredients:
        result.message = _("No ingredient has the GTIN %(gtin)s (scanned lot %(lot)s).", gtin=vial.gtin,
                           lot=vial.lot)
    elif not lots:
        result.message = _("Lot %(lot)s of GTIN %(gtin)s (%(ingredient)s) has not been received.",
                           lot=vial.lot, gtin=vial.gtin, ingredient=ingredients[0].name)
    return result


def _patients(session: Session, words: str) -> list[Hit]:
    condition = patient_services.matching(words)
    if condition is None:
        return []
    rows = session.execute(
        select(Patient.id, Patient.mrn, Patient.first_name, Patient.last_name, Patient.date_of_birth)
        .where(condition).order_by(*patient_services.PATIENT_SORT.order(
            patient_services.default_patient_sort())).limit(LIMIT))
    return [Hit("patient", r.id, f"{r.last_name}, {r.first_name}",
                _("MRN %(mrn)s · born %(date)s", mrn=r.mrn, date=r.date_of_birth.isoformat())
                if r.date_of_birth else _("MRN %(mrn)s", mrn=r.mrn))
            for r in rows]


def _gtin_ingredients(words: str):
    """Ingredients whose GTIN is ``words`` (8 to 14 digits, padded as stored)."""
    digits = words.replace(" ", "")
    if not (digits.isascii() and digits.isdigit() and 8 <= len(digits) <= 14):
        return None
    return select(IngredientGtin.ingredient_id).where(IngredientGtin.gtin == digits.zfill(14))


def _lots(session: Session, words: str) -> list[Hit]:
    condition = func.lower(Lot.lot_number).like(_like(words.lower()), escape="\\")
    by_gtin = _gtin_ingredients(words)
    if by_gtin is not None:
        condition = or_(condition, Lot.ingredient_id.in_(by_gtin))
    rows = session.execute(
        select(Lot.id, Lot.lot_number, Lot.expiry_date, Lot.quantity_on_hand, Ingredient.name,
               Ingredient.unit).join(Lot.ingredient).where(condition)
        .order_by((Lot.quantity_on_hand > 0).desc(), Lot.expiry_date, Lot.id).limit(LIMIT))
    return [Hit("lot", r.id, r.lot_number, _("%(name)s · expires %(date)s", name=r.name,
                                             date=r.expiry_date.isoformat())
                + ("" if r.quantity_on_hand > 0 else " · " + _("empty"))) for r in rows]


def _batches(session: Session, words: str) -> list[Hit]:
    rows = session.execute(
        select(Batch.id, Batch.batch_number, Cocktail.name).join(Cocktail, Cocktail.id == Batch.cocktail_id)
        .where(func.lower(Batch.batch_number).like(_like(words.lower()), escape="\\"))
        .order_by(Batch.prepared_at.desc(), Batch.id.desc()).limit(LIMIT))
    return [Hit("batch", r.id, r.batch_number, r.name) for r in rows]


def _cocktails(session: Session, words: str, *, every_status: bool) -> list[Hit]:
    stmt = (select(Cocktail.id, Cocktail.name, Cocktail.status)
            .where(Cocktail.name_key.like(_like(text_key(words)), escape="\\")))
    if not every_status:
        stmt = stmt.where(Cocktail.status == "active")
    rows = session.execute(stmt.order_by(Cocktail.name_key, Cocktail.id).limit(LIMIT))
    return [Hit("cocktail", r.id, r.name, code_word(r.status)) for r in rows]


def _ingredients(session: Session, words: str) -> list[Hit]:
    condition = Ingredient.name_key.like(_like(text_key(words)), escape="\\")
    by_gtin = _gtin_ingredients(words)
    if by_gtin is not None:
        condition = or_(condition, Ingredient.id.in_(by_gtin))
    rows = session.execute(select(Ingredient.id, Ingredient.name, Ingredient.category, Ingredient.active)
                           .where(condition).order_by(Ingredient.name_key, Ingredient.id).limit(LIMIT))
    return [Hit("ingredient", r.id, r.name,
                code_word(r.category) + ("" if r.active else " · " + _("inactive"))) for r in rows]
