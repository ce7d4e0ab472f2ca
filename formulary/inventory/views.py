"""Inventory pages: ingredients, lots and their ledger, receiving (form and scan),
adjustments, status changes, allergen groups. Thin: the services decide."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload
from wtforms import SelectChoice

from formulary import clock
from formulary.auth.access import require
from formulary.auth.permissions import ADMIN, INVENTORY, VIEW
from formulary.domain.errors import DomainError, NotFound
from formulary.domain.stock import lot_state
from formulary.domain.units import format_quantity
from formulary.errors import form_errors
from formulary.extensions import db
from formulary.recalls import services as recall_services
from formulary.inventory import allergens, ingredients, lots, queries, tables
from formulary.inventory.forms import (AdjustForm, AllergenGroupForm, IngredientForm,
                                       ReceiveForm, ScanForm, StatusForm)
from formulary.inventory.models import (CATEGORIES, AllergenGroup, Ingredient, Lot, Movement,
                                       ingredient_allergen_group)
from formulary.inventory.sorting import INGREDIENT_SORT, LOT_SORT
from formulary.listing import page_sort, paged

from formulary.display import code_word
from formulary.i18n import _, format_qty_l

bp = Blueprint("inventory", __name__)
PER_PAGE = 50
LIST_STATUSES = ("available", "quarantined", "recalled", "expired", "empty")


def _int_arg(name: str, default: int | None = None, minimum: int = 0, maximum: int = 100_000):
    raw = request.args.get(name, "").strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        return default
    return min(max(int(raw), minimum), maximum)


def _page(stmt, count=None, *, objects: bool = True):
    """One page of ``stmt``'s rows (ORM objects, or plain rows when ``objects`` is false),
    the page number (a page past the last is the last) and the number of rows in all
    (``count``: a cheaper statement counting the same rows, if the caller has one)."""
    return paged(stmt, _int_arg("page", 1, minimum=1), PER_PAGE, count=count, objects=objects,
                 unique=objects)


def _group_choices():
    names = db.session.execute(select(AllergenGroup.name).order_by(AllergenGroup.name_key)).scalars()
    return [SelectChoice(n, n) for n in names]


# --- ingredients ----------------------------------------------------------------------

@bp.get("/ingredients", endpoint="ingredients")
@require(VIEW)
def ingredients_list():
    now, tz = clock.now(), clock.clinic_tz()
    # plain rows of the columns shown (a page of ORM objects costs more than the query)
    stmt = select(Ingredient.id, Ingredient.name, Ingredient.category, Ingredient.unit,
                  Ingredient.strength_amount, Ingredient.strength_unit, Ingredient.reorder_level,
                  Ingredient.storage, Ingredient.multi_dose, Ingredient.active)
    sort = page_sort(INGREDIENT_SORT)
    stmt = INGREDIENT_SORT.apply(stmt, sort)
    q = request.args.get("q", "").strip()
    if q:
        stmt = stmt.where(Ingredient.name_key.like(f"%{ingredients.name_key(q)}%"))
    category = request.args.get("category", "")
    if category in CATEGORIES:
        stmt = stmt.where(Ingredient.category == category)
    show = request.args.get("show", "active")
    if show == "active":
        stmt = stmt.where(Ingredient.active.is_(True))
    elif show == "inactive":
        stmt = stmt.where(Ingredient.active.is_(False))
    low_only = request.args.get("low_stock") == "1"
    if low_only:
        stmt = stmt.where(Ingredient.id.in_(list(queries.low_stock_ids(db.session, now, tz))))
    rows, page, total = _page(stmt, objects=False)
    ids = [i.id for i in rows]
    on_hand, usable = queries.stock_quantities(db.session, ids, now, tz)
    groups: dict[int, list[str]] = {}
    if ids:
        for ingredient_id, name in db.session.execute(
                select(ingredient_allergen_group.c.ingredient_id, AllergenGroup.name)
                .join(AllergenGroup, AllergenGroup.id == ingredient_allergen_group.c.allergen_group_id)
                .where(ingredient_allergen_group.c.ingredient_id.in_(ids))
                .order_by(AllergenGroup.name)):
            groups.setdefault(ingredient_id, []).append(name)
    return render_template("inventory/ingredients.html", rows=rows,
                           ingredient_rows=tables.ingredient_rows(
                               rows, usable, on_hand, {i: ", ".join(n) for i, n in groups.items()}),
                           page=page, per_page=PER_PAGE, total=total, categories=CATEGORIES,
                           q=q, category=category, show=show, low_only=low_only, sort=sort)


def _ingredient_or_404(ingredient_id: int) -> Ingredient:
    ing = db.session.get(Ingredient, ingredient_id)
    if ing is None:
        raise NotFound("No such ingredient.")
    return ing


@bp.get("/ingredients/<int:ingredient_id>")
@require(VIEW)
def ingredient(ingredient_id: int):
    ing = _ingredient_or_404(ingredient_id)
    now, tz = clock.now(), clock.clinic_tz()
    lot_rows = db.session.execute(
        select(Lot).options(joinedload(Lot.ingredient)).where(Lot.ingredient_id == ing.id)
        .order_by((Lot.quantity_on_hand > 0).desc(), Lot.expiry_date, Lot.id).limit(200)).scalars().all()
    on_hand, usable = (q[ing.id] for q in queries.stock_quantities(db.session, [ing.id], now, tz))
    return render_template("inventory/ingredient.html", ing=ing, lots=lot_rows, usable=usable,
                           on_hand=on_hand, state=lambda lot: queries.lot_read_status(lot, now, tz))


def _ingredient_form(ing: Ingredient | None):
    form = IngredientForm()
    form.allergen_groups.choices = _group_choices()
    if request.method == "GET" and ing is not None:
        form.fill(ing)
    if form.validate_on_submit():
        try:
            if ing is None:
                ing = ingredients.create_ingredient(db.session, current_user, form.to_data())
                flash(_("Ingredient %(name)s created.", name=ing.name), "success")
            else:
                ingredients.update_ingredient(db.session, current_user, ing, form.to_data())
                flash(_("Ingredient %(name)s saved.", name=ing.name), "success")
        except DomainError as exc:
            form_errors(form, exc)
        else:
            return redirect(url_for("inventory.ingredient", ingredient_id=ing.id))
    status = 422 if form.errors else 200
    return render_template("inventory/ingredient_form.html", form=form, ing=ing), status


@bp.route("/ingredients/new", methods=["GET", "POST"])
@require(INVENTORY)
def ingredient_new():
    return _ingredient_form(None)


@bp.route("/ingredients/<int:ingredient_id>/edit", methods=["GET", "POST"])
@require(INVENTORY)
def ingredient_edit(ingredient_id: int):
    return _ingredient_form(_ingredient_or_404(ingredient_id))


# --- lots -----------------------------------------------------------------------------

@bp.get("/lots", endpoint="lots")
@require(VIEW)
def lots_list():
    now, tz = clock.now(), clock.clinic_tz()
    filters = []
    by_ingredient = False  # whether a filter reads the ingredient (the count joins it then)
    q = request.args.get("q", "").strip()
    if q:
        filters.append(queries.search_filter(q))
        by_ingredient = True
    ingredient_id = _int_arg("ingredient_id")
    if ingredient_id:
        filters.append(Lot.ingredient_id == ingredient_id)
    category = request.args.get("category", "")
    if category in CATEGORIES:
        filters.append(Ingredient.category == category)
        by_ingredient = True
    status = request.args.get("status", "")
    if status in LIST_STATUSES:
        filters.append(queries.status_filter(status, now, tz))
    within = _int_arg("expiring_within_days", None, maximum=36500)
    if within is not None:
        filters.append(queries.expiring_filter(now, tz, within))
    # Empty lots are hidden unless asked for (or the status asked for is "empty").
    show_empty = request.args.get("empty") == "1" or status == "empty"
    if not show_empty:
        filters.append(Lot.quantity_on_hand > 0)
    sort = page_sort(LOT_SORT)
    # plain rows: the stock rules' columns and those shown
    stmt = LOT_SORT.apply(select(*queries.LOT_STOCK_COLUMNS, Lot.quantity_received, Lot.supplier,
                                 Ingredient.name.label("ingredient_name"), Ingredient.unit)
                          .join(Lot.ingredient).where(*filters), sort)
    # Every lot has its ingredient: the count needs the join only for a filter on it.
    count = select(func.count()).select_from(Lot).where(*filters)
    if by_ingredient:
        count = count.join(Lot.ingredient)
    rows, page, total = _page(stmt, count, objects=False)
    states = {row.id: lot_state(queries.lot_stock_from_row(row), now, tz) for row in rows}
    return render_template("inventory/lots.html", rows=rows, lot_rows=tables.lot_rows(rows, states),
                           page=page, per_page=PER_PAGE,
                           total=total, q=q, status=status, within=within, category=category,
                           categories=CATEGORIES, statuses=LIST_STATUSES, sort=sort,
                           show_empty=show_empty)


def _lot_or_404(lot_id: int) -> Lot:
    lot = db.session.get(Lot, lot_id, options=[joinedload(Lot.ingredient)])
    if lot is None:
        raise NotFound("No such lot.")
    return lot


def _lot_page(lot: Lot, adjust: AdjustForm | None = None, status_form: StatusForm | None = None,
              code: int = 200):
    movements = db.session.execute(
        select(Movement).options(joinedload(Movement.user)).where(Movement.lot_id == lot.id)
        .order_by(Movement.id)).scalars().all()
    state = queries.lot_read_status(lot, clock.now(), clock.clinic_tz())
    history = queries.lot_status_history(db.session, lot.id)
    return render_template("inventory/lot.html", lot=lot, movements=movements, state=state,
                           history=history, status_words=queries.LOT_STATUS_ACTIONS,
                           recall=recall_services.recall_of_lot(db.session, lot.id),
                           adjust=adjust or AdjustForm(prefix="adjust"),
                           status_form=status_form or StatusForm(prefix="status"),
                           ledger_ok=sum((m.quantity_delta for m in movements), 0) == lot.quantity_on_hand), code


@bp.get("/lots/<int:lot_id>")
@require(VIEW)
def lot(lot_id: int):
    return _lot_page(_lot_or_404(lot_id))


@bp.post("/lots/<int:lot_id>/adjust")
@require(INVENTORY)
def lot_adjust(lot_id: int):
    lot_row = _lot_or_404(lot_id)
    form = AdjustForm(prefix="adjust")
    if form.validate_on_submit():
        try:
            lots.adjust_lot(db.session, current_user, lot_row, quantity_delta=form.quantity_delta.data,
                            reason=form.reason.data, note=form.note.data or "")
        except DomainError as exc:
            form_errors(form, exc)
            return _lot_page(_lot_or_404(lot_id), adjust=form, code=exc.status)
        flash("Adjustment recorded in the ledger.", "success")
        return redirect(url_for("inventory.lot", lot_id=lot_id))
    return _lot_page(lot_row, adjust=form, code=422)


@bp.post("/lots/<int:lot_id>/status")
@require(INVENTORY)
def lot_status(lot_id: int):
    lot_row = _lot_or_404(lot_id)
    form = StatusForm(prefix="status")
    if form.validate_on_submit():
        try:
            lots.set_lot_status(db.session, current_user, lot_row, status=form.status.data,
                                reason=form.reason.data or "")
        except DomainError as exc:
            form_errors(form, exc)
            return _lot_page(_lot_or_404(lot_id), status_form=form, code=exc.status)
        flash(_("Lot %(lot)s is now %(status)s.", lot=lot_row.lot_number, status=code_word(lot_row.status)),
              "success")
        return redirect(url_for("inventory.lot", lot_id=lot_id))
    return _lot_page(lot_row, status_form=form, code=422)


# --- receiving --------------------------------------------------------------------------

@bp.route("/receive", methods=["GET", "POST"])
@require(INVENTORY)
def receive():
    scan = ScanForm(request.args)
    form = ReceiveForm()
    form.ingredient_id.choices = [SelectChoice("", "—")] + [
        SelectChoice(str(i), f"{n} ({u})") for i, n, u in db.session.execute(
            select(Ingredient.id, Ingredient.name, Ingredient.unit)
            .where(Ingredient.active.is_(True)).order_by(Ingredient.name_key))]
    scanned = None
    status = 200
    if request.method == "GET" and scan.barcode.data:
        try:
            vial, ing = lots.lookup_barcode(db.session, scan.barcode.data)
        except DomainError as exc:
            scan.barcode.errors = list(exc.fields.get("barcode", [exc.message]))
            status = 422
        else:
            scanned = {"vial": vial, "ingredient": ing, "read": lots.describe_scan(vial)}
            form.barcode.data = scan.barcode.data
            form.ingredient_id.data = str(ing.id)
            form.lot_number.data = vial.lot
            form.expiry_date.data = vial.expiry.isoformat()
    if form.validate_on_submit():
        kwargs = dict(quantity=form.quantity.data, unit_cost=form.unit_cost.data or None,
                      supplier=form.supplier.data or "")
        try:
            if form.barcode.data:
                lot_row = lots.receive_scanned(db.session, current_user, barcode=form.barcode.data, **kwargs)
            else:
                raw = form.ingredient_id.data or ""
                ingredient_id = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else None
                lot_row = lots.receive_lot(db.session, current_user, ingredient=ingredient_id,
                                           lot_number=form.lot_number.data,
                                           expiry_date=form.expiry_date.data, **kwargs)
        except DomainError as exc:
            form_errors(form, exc)
            if "barcode" in exc.fields:
                scan.barcode.data = form.barcode.data
                scan.barcode.errors = list(exc.fields["barcode"])
            status = exc.status
        else:
            flash(_("Received %(name)s, lot %(lot)s: %(quantity)s %(unit)s on hand.",
                    name=lot_row.ingredient.name, lot=lot_row.lot_number,
                    quantity=format_qty_l(lot_row.quantity_on_hand), unit=lot_row.ingredient.unit), "success")
            return redirect(url_for("inventory.lot", lot_id=lot_row.id))
    elif request.method == "POST":
        status = 422
    if form.barcode.data and scanned is None:
        try:
            vial, ing = lots.lookup_barcode(db.session, form.barcode.data)
            scanned = {"vial": vial, "ingredient": ing, "read": lots.describe_scan(vial)}
        except DomainError:
            form.barcode.data = ""
    return render_template("inventory/receive.html", scan=scan, form=form, scanned=scanned), status


# --- allergen groups ------------------------------------------------------------------

def _group_form(group: AllergenGroup | None):
    form = AllergenGroupForm()
    form.cross_reacts_with.choices = [c for c in _group_choices() if group is None or c.value != group.name]
    if request.method == "GET" and group is not None:
        form.name.data, form.description.data = group.name, group.description
        form.cross_reacts_with.data = [g.name for g in allergens.partners(db.session, group)]
    status = 200
    if form.validate_on_submit():
        try:
            if group is None:
                group = allergens.create_group(db.session, current_user, form.to_data())
            else:
                allergens.update_group(db.session, current_user, group, form.to_data())
        except DomainError as exc:
            form_errors(form, exc)
            status = exc.status
        else:
            flash(_("Allergen group %(name)s saved.", name=group.name), "success")
            return redirect(url_for("inventory.allergen_groups"))
    elif request.method == "POST":
        status = 422
    return form, status


@bp.route("/allergen-groups", methods=["GET", "POST"])
@require(ADMIN)
def allergen_groups():
    result = _group_form(None)
    if not isinstance(result, tuple):
        return result
    form, status = result
    groups = db.session.execute(select(AllergenGroup).order_by(AllergenGroup.name_key)).scalars().all()
    partners = allergens.partners_by_group(db.session)
    counts = dict(db.session.execute(
        select(AllergenGroup.id, func.count(Ingredient.id)).join(AllergenGroup.ingredients)
        .group_by(AllergenGroup.id)).all())
    return render_template("inventory/allergen_groups.html", groups=groups, partners=partners,
                           counts=counts, form=form), status


@bp.route("/allergen-groups/<int:group_id>", methods=["GET", "POST"])
@require(ADMIN)
def allergen_group_edit(group_id: int):
    group = db.session.get(AllergenGroup, group_id)
    if group is None:
        raise NotFound("No such allergen group.")
    result = _group_form(group)
    if not isinstance(result, tuple):
        return result
    form, status = result
    return render_template("inventory/allergen_group_form.html", form=form, group=group), status

