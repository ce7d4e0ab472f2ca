"""Inventory: ingredients, allergen groups, lots, scanning, adjustments, status, ledger
(SPEC §9). Thin routes over ``formulary.inventory`` services and queries."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from formulary import clock
from formulary.api import schema as S
from formulary.api.core import (PAGE_QUERY, api_route, sort_query, arg_bool, arg_int, created,
                                current_api_user, dec, iso, json_body, only_fields)
from formulary.auth.permissions import ADMIN, INVENTORY, VIEW
from formulary.domain.errors import NotFound, ValidationError
from formulary.domain.safety import CONDITIONS
from formulary.domain.units import UNITS
from formulary.extensions import db
from formulary.inventory import allergens, ingredients, lots, queries
from formulary.inventory.sorting import INGREDIENT_SORT, LOT_SORT
from formulary.listing import api_sort, paged
from formulary.inventory.models import (ADJUSTMENT_REASONS, CATEGORIES, LOT_STATUSES, STORAGES,
                                        AllergenGroup, Ingredient, Lot, Movement)

TAG = "inventory"
READ_STATUSES = (*LOT_STATUSES, "expired", "in_use_expired", "empty")
#: The statuses a lot list filters by.
LIST_STATUSES = (*LOT_STATUSES, "expired", "empty")

AMOUNT_IN = S.obj(required=("amount", "unit"), amount=S.decimal_in(), unit=S.string(enum=UNITS))
AMOUNT_OUT = S.obj(required=("amount", "unit"), amount=S.decimal_out(), unit=S.string(enum=UNITS))
INGREDIENT_FIELDS = dict(
    name=S.string(max_length=160), category=S.string(enum=CATEGORIES), unit=S.string(enum=UNITS),
    allergen_groups=S.array(S.string()), contraindications=S.array(S.string(enum=CONDITIONS)),
    gtins=S.array(S.string(description="GTIN-8, 12, 13 or 14")), storage=S.string(enum=STORAGES),
    multi_dose=S.boolean(), in_use_days=S.integer(minimum=1, null=True), active=S.boolean(),
    notes=S.string())
INGREDIENT_IN = S.obj(
    strength={"anyOf": [AMOUNT_IN, {"type": "null"}], "description": "active amount per 1 mL"},
    reorder_level={"anyOf": [S.decimal_in(), {"type": "null"}]},
    max_dose_per_session={"anyOf": [AMOUNT_IN, {"type": "null"}]}, **INGREDIENT_FIELDS)
INGREDIENT = S.component("Ingredient", S.obj(
    required=("id", "name", "category", "unit", "usable", "on_hand"), id=S.integer(),
    strength={"anyOf": [AMOUNT_OUT, {"type": "null"}]}, reorder_level=S.decimal_out(null=True),
    max_dose_per_session={"anyOf": [AMOUNT_OUT, {"type": "null"}]},
    usable=S.decimal_out(description="usable stock in the stock unit"),
    on_hand=S.decimal_out(description="on hand over all lots, whatever their status"),
    low_stock=S.boolean(), **INGREDIENT_FIELDS))
# ``description`` is a field here, not the schema's description (S.obj's keyword).
_GROUP = S.obj(required=("id", "name", "cross_reacts_with"), id=S.integer(), name=S.string(),
               cross_reacts_with=S.array(S.string()))
_GROUP["properties"]["description"] = S.string()
GROUP = S.component("AllergenGroup", _GROUP)
GROUP_IN = S.obj(name=S.string(max_length=120), cross_reacts_with=S.array(S.string()))
GROUP_IN["properties"]["description"] = S.string()
LOT = S.component("Lot", S.obj(
    required=("id", "ingredient_id", "lot_number", "expiry_date", "quantity_received",
              "quantity_on_hand", "status"),
    id=S.integer(), ingredient_id=S.integer(), ingredient_name=S.string(), unit=S.string(enum=UNITS),
    lot_number=S.string(), expiry_date=S.string(fmt="date"), supplier=S.string(),
    unit_cost=S.decimal_out(null=True), quantity_received=S.decimal_out(),
    quantity_on_hand=S.decimal_out(), status=S.string(enum=READ_STATUSES),
    stored_status=S.string(enum=LOT_STATUSES), status_reason=S.string(),
    opened_at=S.string(fmt="date-time", null=True), received_at=S.string(fmt="date-time")))
MOVEMENT = S.component("Movement", S.obj(
    required=("id", "kind", "quantity_delta", "balance_after", "at"),
    id=S.integer(), lot_id=S.integer(), kind=S.string(enum=("receipt", "batch_use", "adjustment")),
    quantity_delta=S.decimal_out(), balance_after=S.decimal_out(),
    reason=S.string(enum=ADJUSTMENT_REASONS, null=True), note=S.string(),
    user=S.string(null=True), at=S.string(fmt="date-time"), batch_id=S.integer(null=True)))
RECEIVE_IN = S.obj(required=("ingredient_id", "lot_number", "expiry_date", "quantity"),
                   ingredient_id=S.integer(), lot_number=S.string(max_length=40),
                   expiry_date=S.string(fmt="date"), quantity=S.decimal_in(),
                   unit_cost={"anyOf": [S.decimal_in(), {"type": "null"}]},
                   supplier=S.string(max_length=120))


def _amount(amount, unit):
    return None if amount is None else {"amount": dec(amount), "unit": unit}


def ingredient_json(ing: Ingredient, usable, on_hand) -> dict:
    low = ing.reorder_level is not None and usable < ing.reorder_level
    return {"id": ing.id, "name": ing.name, "category": ing.category, "unit": ing.unit,
            "strength": _amount(ing.strength_amount, ing.strength_unit),
            "allergen_groups": [g.name for g in ing.allergen_groups],
            "contraindications": [c.condition for c in ing.contraindications],
            "reorder_level": dec(ing.reorder_level),
            "max_dose_per_session": _amount(ing.max_dose_amount, ing.max_dose_unit),
            "gtins": [g.gtin for g in ing.gtins], "storage": ing.storage,
            "multi_dose": ing.multi_dose, "in_use_days": ing.in_use_days, "active": ing.active,
            "notes": ing.notes, "usable": dec(usable), "on_hand": dec(on_hand), "low_stock": low}


def _ingredient_rows(rows: list[Ingredient]) -> list[dict]:
    on_hand, usable = queries.stock_quantities(db.session, [i.id for i in rows], clock.now(),
                                               clock.clinic_tz())
    return [ingredient_json(i, usable[i.id], on_hand[i.id]) for i in rows]


def lot_json(lot: Lot) -> dict:
    return {"id": lot.id, "ingredient_id": lot.ingredient_id, "ingredient_name": lot.ingredient.name,
            "unit": lot.ingredient.unit, "lot_number": lot.lot_number,
            "expiry_date": iso(lot.expiry_date), "supplier": lot.supplier,
            "unit_cost": dec(lot.unit_cost), "quantity_received": dec(lot.quantity_received),
            "quantity_on_hand": dec(lot.quantity_on_hand),
            "status": queries.lot_read_status(lot, clock.now(), clock.clinic_tz()),
            "stored_status": lot.status, "status_reason": lot.status_reason,
            "opened_at": iso(lot.opened_at), "received_at": iso(lot.received_at)}


def movement_json(m: Movement) -> dict:
    return {"id": m.id, "lot_id": m.lot_id, "kind": m.kind, "quantity_delta": dec(m.quantity_delta),
            "balance_after": dec(m.balance_after), "reason": m.reason, "note": m.note,
            "user": m.user.username if m.user else None, "at": iso(m.at), "batch_id": m.batch_id}


def _page_args() -> tuple[int, int]:
    page = arg_int("page", 1, minimum=1)
    per_page = arg_int("per_page", 50, minimum=1, maximum=current_app.config["API_MAX_PER_PAGE"])
    return page, per_page


def _page(stmt, page: int, per_page: int):
    """``(rows, total, page)``: a page past the last is the last (``listing.paged``)."""
    rows, page, total = paged(stmt, page, per_page, unique=True)
    return rows, total, page


def _ingredient(ingredient_id: int) -> Ingredient:
    ing = db.session.get(Ingredient, ingredient_id)
    if ing is None:
        raise NotFound("No such ingredient.")
    return ing


def _lot(lot_id: int) -> Lot:
    lot = db.session.get(Lot, lot_id, options=[joinedload(Lot.ingredient)])
    if lot is None:
        raise NotFound("No such lot.")
    return lot


# --- ingredients ----------------------------------------------------------------------

@api_route("/ingredients", ["GET"], summary="List ingredients with their usable stock", tag=TAG,
           permission=VIEW, responses={200: S.page_of(INGREDIENT)},
           query=(("q", S.string(), "search in the name"),
                  ("category", S.string(enum=CATEGORIES), "only this category"),
                  ("low_stock", S.integer(), "1: only usable stock below the reorder level"),
                  ("active", S.integer(), "1: active only, 0: inactive only"),
                  sort_query(INGREDIENT_SORT), *PAGE_QUERY))
def list_ingredients():
    from flask import request

    page, per_page = _page_args()
    stmt = (select(Ingredient).options(selectinload(Ingredient.allergen_groups),
                                       selectinload(Ingredient.contraindications),
                                       selectinload(Ingredient.gtins)))
    stmt = INGREDIENT_SORT.apply(stmt, api_sort(INGREDIENT_SORT))
    q = request.args.get("q", "").strip()
    if q:
        stmt = stmt.where(Ingredient.name_key.like(f"%{ingredients.name_key(q)}%"))
    category = request.args.get("category", "")
    if category:
        if category not in CATEGORIES:
            raise ValidationError("Unknown category.", field="category")
        stmt = stmt.where(Ingredient.category == category)
    active = request.args.get("active", "")
    if active in ("0", "1"):
        stmt = stmt.where(Ingredient.active.is_(active == "1"))
    if arg_bool("low_stock"):
        low = queries.low_stock_ids(db.session, clock.now(), clock.clinic_tz())
        stmt = stmt.where(Ingredient.id.in_(list(low)))
    rows, total, page = _page(stmt, page, per_page)
    return {"items": _ingredient_rows(rows), "total": total, "page": page, "per_page": per_page}


@api_route("/ingredients", ["POST"], summary="Create an ingredient", tag=TAG,
           permission=INVENTORY, body=INGREDIENT_IN, responses={201: INGREDIENT})
def create_ingredient():
    ing = ingredients.create_ingredient(db.session, current_api_user(), json_body())
    return created(_ingredient_rows([ing])[0])


@api_route("/ingredients/<int:ingredient_id>", ["GET"], summary="Read an ingredient", tag=TAG,
           permission=VIEW, responses={200: INGREDIENT})
def get_ingredient(ingredient_id: int):
    return _ingredient_rows([_ingredient(ingredient_id)])[0]


@api_route("/ingredients/<int:ingredient_id>", ["PATCH"], summary="Change an ingredient", tag=TAG,
           permission=INVENTORY, body=INGREDIENT_IN, responses={200: INGREDIENT})
def update_ingredient(ingredient_id: int):
    ing = _ingredient(ingredient_id)
    data = json_body()
    ingredients.update_ingredient(db.session, current_api_user(), ing, data)
    return _ingredient_rows([ing])[0]


# --- allergen groups ------------------------------------------------------------------

def group_json(group: AllergenGroup, partners) -> dict:
    return {"id": group.id, "name": group.name, "description": group.description,
            "cross_reacts_with": [g.name for g in partners]}


@api_route("/allergen-groups", ["GET"], summary="List allergen groups and their cross-reactions",
           tag=TAG, permission=VIEW, query=PAGE_QUERY, responses={200: S.page_of(GROUP)},
           description="Readable by every role (ingredients name them); changed by admins only.")
def list_allergen_groups():
    page, per_page = _page_args()
    rows, total, page = _page(select(AllergenGroup).order_by(AllergenGroup.name_key, AllergenGroup.id),
                              page, per_page)
    partners = allergens.partners_by_group(db.session)
    return {"items": [group_json(g, partners.get(g.id, [])) for g in rows], "total": total,
            "page": page, "per_page": per_page}


@api_route("/allergen-groups", ["POST"], summary="Create an allergen group", tag=TAG,
           permission=ADMIN, body=GROUP_IN, responses={201: GROUP})
def create_allergen_group():
    group = allergens.create_group(db.session, current_api_user(), json_body())
    return created(group_json(group, allergens.partners(db.session, group)))


@api_route("/allergen-groups/<int:group_id>", ["PATCH"], summary="Change an allergen group",
           tag=TAG, permission=ADMIN, body=GROUP_IN, responses={200: GROUP})
def update_allergen_group(group_id: int):
    group = db.session.get(AllergenGroup, group_id)
    if group is None:
        raise NotFound("No such allergen group.")
    allergens.update_group(db.session, current_api_user(), group, json_body())
    return group_json(group, allergens.partners(db.session, group))


# --- lots -----------------------------------------------------------------------------

@api_route("/lots", ["GET"], summary="List lots", tag=TAG, permission=VIEW,
           responses={200: S.page_of(LOT)},
           query=(("ingredient_id", S.integer(), "only this ingredient"),
                  ("status", S.string(enum=LIST_STATUSES), "status as read"),
                  ("expiring_within_days", S.integer(minimum=0), "usable lots expiring within N days"),
                  ("in_stock", S.integer(), "1: only lots with something on hand"),
                  ("q", S.string(), "search lot number or ingredient name"),
                  sort_query(LOT_SORT), *PAGE_QUERY))
def list_lots():
    from flask import request

    page, per_page = _page_args()
    now, tz = clock.now(), clock.clinic_tz()
    stmt = LOT_SORT.apply(select(Lot).join(Lot.ingredient).options(joinedload(Lot.ingredient)),
                          api_sort(LOT_SORT))
    ingredient_id = arg_int("ingredient_id", minimum=1)
    if ingredient_id is not None:
        stmt = stmt.where(Lot.ingredient_id == ingredient_id)
    status = request.args.get("status", "")
    if status:
        if status not in LIST_STATUSES:
            raise ValidationError("Status: available, quarantined, recalled, expired or empty.",
                                  field="status")
        stmt = stmt.where(queries.status_filter(status, now, tz))
    within = arg_int("expiring_within_days", minimum=0, maximum=36500)
    if within is not None:
        stmt = stmt.where(queries.expiring_filter(now, tz, within))
    if arg_bool("in_stock"):
        stmt = stmt.where(Lot.quantity_on_hand > 0)
    q = request.args.get("q", "").strip()
    if q:
        stmt = stmt.where(queries.search_filter(q))
    rows, total, page = _page(stmt, page, per_page)
    return {"items": [lot_json(r) for r in rows], "total": total, "page": page, "per_page": per_page}


@api_route("/lots", ["POST"], summary="Receive a lot", tag=TAG, permission=INVENTORY,
           body=RECEIVE_IN, responses={201: LOT},
           description="The same lot number with the same expiry adds to the lot; another "
                       "expiry is refused (409 duplicate).")
def receive_lot():
    data = only_fields(json_body(), {"ingredient_id", "lot_number", "expiry_date", "quantity",
                                     "unit_cost", "supplier"})
    if "ingredient_id" not in data:
        raise ValidationError("Choose an ingredient.", field="ingredient_id")
    lot = lots.receive_lot(db.session, current_api_user(), ingredient=data["ingredient_id"],
                           lot_number=data.get("lot_number"), expiry_date=data.get("expiry_date"),
                           quantity=data.get("quantity"), unit_cost=data.get("unit_cost"),
                           supplier=data.get("supplier") or "")
    return created(lot_json(lot))


@api_route("/lots/scan", ["POST"], summary="Receive a lot from a vial's GS1 barcode", tag=TAG,
           permission=INVENTORY, responses={201: LOT},
           body=S.obj(required=("barcode", "quantity"), barcode=S.string(), quantity=S.decimal_in(),
                      unit_cost={"anyOf": [S.decimal_in(), {"type": "null"}]},
                      supplier=S.string(max_length=120)))
def receive_scan():
    data = only_fields(json_body(), {"barcode", "quantity", "unit_cost", "supplier"})
    lot = lots.receive_scanned(db.session, current_api_user(), barcode=data.get("barcode"),
                               quantity=data.get("quantity"), unit_cost=data.get("unit_cost"),
                               supplier=data.get("supplier") or "")
    return created(lot_json(lot))


@api_route("/lots/<int:lot_id>", ["GET"], summary="Read a lot", tag=TAG, permission=VIEW,
           responses={200: LOT})
def get_lot(lot_id: int):
    return lot_json(_lot(lot_id))


@api_route("/lots/<int:lot_id>/adjustments", ["POST"], summary="Adjust a lot's quantity", tag=TAG,
           permission=INVENTORY, responses={201: MOVEMENT},
           body=S.obj(required=("quantity_delta", "reason"), quantity_delta=S.decimal_in(),
                      reason=S.string(enum=ADJUSTMENT_REASONS), note=S.string()),
           description="Below zero: 409 insufficient_stock, nothing written.")
def adjust_lot(lot_id: int):
    lot = _lot(lot_id)
    data = only_fields(json_body(), {"quantity_delta", "reason", "note"})
    movement = lots.adjust_lot(db.session, current_api_user(), lot,
                               quantity_delta=data.get("quantity_delta"), reason=data.get("reason"),
                               note=data.get("note") or "")
    return created(movement_json(movement))


@api_route("/lots/<int:lot_id>/status", ["POST"], summary="Quarantine, recall or release a lot",
           tag=TAG, permission=INVENTORY, responses={200: LOT},
           body=S.obj(required=("status", "reason"), status=S.string(enum=LOT_STATUSES),
                      reason=S.string()),
           description="A recalled lot is never released: a recall is final.")
def set_lot_status(lot_id: int):
    lot = _lot(lot_id)
    data = only_fields(json_body(), {"status", "reason"})
    lots.set_lot_status(db.session, current_api_user(), lot, status=data.get("status"),
                        reason=data.get("reason"))
    return lot_json(lot)


@api_route("/lots/<int:lot_id>/movements", ["GET"], summary="A lot's ledger", tag=TAG,
           permission=VIEW, query=PAGE_QUERY, responses={200: S.page_of(MOVEMENT)})
def lot_movements(lot_id: int):
    _lot(lot_id)
    page, per_page = _page_args()
    stmt = (select(Movement).options(joinedload(Movement.user)).where(Movement.lot_id == lot_id)
            .order_by(Movement.id))
    rows, total, page = _page(stmt, page, per_page)
    return {"items": [movement_json(m) for m in rows], "total": total, "page": page,
            "per_page": per_page}
