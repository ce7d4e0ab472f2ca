"""Cocktail pages: browse, read (with every version), compare two versions, the editor
with live totals, approve and retire, and a printable composition sheet for the patient."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select

from formulary.api.core import dec
from formulary.auth.access import require
from formulary.auth.permissions import COCKTAILS_APPROVE, COCKTAILS_EDIT, VIEW
from formulary.cocktails import services
from formulary.cocktails.composition import (diff_versions, preview as compute_preview,
                                             usable_stock, version_composition)
from formulary.cocktails.forms import (ApproveForm, CocktailForm, RetireForm, ingredient_choices,
                                       is_blank)
from formulary.cocktails.models import AREAS, COCKTAIL_STATUSES
from formulary.cocktails.rows import listed_versions
from formulary.domain.doses import ComponentInput
from formulary.domain.errors import DomainError
from formulary.domain.units import to_api
from formulary.errors import throw_away_changes
from formulary.extensions import db
from formulary.listing import page_sort, paged
from formulary.inventory.models import Ingredient

from formulary.i18n import _, tr

bp = Blueprint("cocktails", __name__, url_prefix="/cocktails")
PER_PAGE = 25


def _int_arg(name: str) -> int | None:
    raw = (request.args.get(name) or "").strip()
    return int(raw) if raw.isdecimal() and len(raw) < 10 else None


@bp.get("/")
@require(VIEW)
def index():
    editor = current_user.may(COCKTAILS_EDIT)
    area = request.args.get("area") if request.args.get("area") in AREAS else None
    status = request.args.get("status") if request.args.get("status") in COCKTAIL_STATUSES else None
    if not editor:
        status = "active"  # practitioners pick from what may be prepared
    q = (request.args.get("q") or "").strip()[:100] or None
    indication = (request.args.get("indication") or "").strip()[:100] or None
    sort = page_sort(services.COCKTAIL_SORT)
    stmt = services.COCKTAIL_SORT.apply(
        services.list_statement(area=area, status=status, q=q, indication=indication), sort)
    rows, page, total = paged(stmt, max(1, _int_arg("page") or 1), PER_PAGE)
    # the shown versions and their ingredients' names as plain rows (``cocktails.rows``)
    items = listed_versions(db.session, rows)
    return render_template("cocktails/index.html", items=items, total=total, page=page,
                           per_page=PER_PAGE, areas=AREAS, statuses=COCKTAIL_STATUSES,
                           editor=editor, sort=sort,
                           filters={"area": area, "status": status, "q": q, "indication": indication})


def _detail_context(cocktail, version) -> dict:
    ids = [c.ingredient_id for c in version.components]
    composition = version_composition(version, usable_stock(db.session, ids))
    return {"cocktail": cocktail, "version": version, "composition": composition,
            "draft": services.pending_draft(cocktail), "shown": services.shown_version(cocktail),
            "approve_form": ApproveForm(prefix="approve"), "retire_form": RetireForm(prefix="retire")}


def _requested_version(cocktail):
    """The version ``?version=N`` names, or the one shown by default."""
    number = _int_arg("version")
    return (services.version_by_number(cocktail, number) if number is not None
            else services.shown_version(cocktail))


@bp.get("/<int:cocktail_id>")
@require(VIEW)
def detail(cocktail_id: int):
    cocktail = services.get_cocktail(db.session, cocktail_id)
    version = _requested_version(cocktail)
    return render_template("cocktails/detail.html", **_detail_context(cocktail, version))


@bp.get("/<int:cocktail_id>/diff")
@require(VIEW)
def diff(cocktail_id: int):
    cocktail = services.get_cocktail(db.session, cocktail_id)
    numbers = [v.number for v in cocktail.versions]
    a = _int_arg("a") or (numbers[-2] if len(numbers) > 1 else numbers[-1])
    b = _int_arg("b") or numbers[-1]
    left, right = services.version_by_number(cocktail, a), services.version_by_number(cocktail, b)
    fields, components = diff_versions(left, right)
    return render_template("cocktails/diff.html", cocktail=cocktail, left=left, right=right,
                           fields=fields, components=components, numbers=numbers)


@bp.get("/<int:cocktail_id>/sheet")
@require(VIEW)
def sheet(cocktail_id: int):
    cocktail = services.get_cocktail(db.session, cocktail_id)
    version = _requested_version(cocktail)
    return render_template("cocktails/sheet.html", cocktail=cocktail, version=version,
                           composition=version_composition(version))


# --- the editor ----------------------------------------------------------------------

def _active_ingredients():
    return db.session.execute(select(Ingredient).where(Ingredient.active.is_(True))
                              .order_by(Ingredient.name_key)).scalars().all()


def _rows(form) -> list[tuple[int, ComponentInput]]:
    """The rows that hold something, with their position in the form."""
    return [(i, ComponentInput(e.form.ingredient_id.data or None, e.form.amount.data, e.form.unit.data))
            for i, e in enumerate(form.components.entries) if not is_blank(e.form)]


def _place_errors(form, exc: DomainError, positions: list[int]) -> list[str]:
    """Roll back, then put each message on its field; ``components.{i}`` keys name the
    i-th non-blank row, mapped back to the row's place in the form. Returns the messages
    about the component list as a whole."""
    throw_away_changes()
    whole, unplaced = [], []
    for key, messages in exc.fields.items():
        parts = key.split(".")
        target = None
        if parts[0] == "components" and len(parts) == 3 and parts[1].isdecimal() \
                and int(parts[1]) < len(positions):
            row = form.components.entries[positions[int(parts[1])]].form
            target = getattr(row, parts[2], None)
        elif key == "components":
            whole.extend(messages)
            continue
        elif len(parts) == 1 and hasattr(form, key):
            target = getattr(form, key)
        if target is not None and hasattr(target, "errors"):
            target.errors = list(target.errors or []) + list(messages)
        else:
            unplaced.extend(messages)
    flash(tr(exc.message) + (" " + " ".join(tr(m) for m in unplaced) if unplaced else ""),
          "danger")
    return whole


def _editor(form, cocktail, base):
    status, whole, composition = 200, [], None
    if form.validate_on_submit():
        rows = _rows(form)
        positions = [i for i, _ in rows]
        data = services.CocktailInput(name=form.name.data, area=form.area.data,
                                      indication=form.indication.data, storage=form.storage.data,
                                      notes=form.notes.data, components=[c for _, c in rows])
        if form.totals.data:  # without JavaScript: the totals, nothing saved
            composition = compute_preview(db.session, rows)
            _errors_from_preview(form, composition.errors)
            whole = composition.errors.get("components", [])
        else:
            try:
                if cocktail is None:
                    saved = services.create_cocktail(db.session, current_user, data)
                    flash(_("Cocktail %(name)s saved as draft version 1.", name=saved.name), "success")
                    return redirect(url_for("cocktails.detail", cocktail_id=saved.id))
                draft = services.update_cocktail(db.session, current_user, cocktail.id, data)
                flash(_("Draft version %(number)s of %(name)s saved.", number=draft.number, name=cocktail.name), "success")
                return redirect(url_for("cocktails.detail", cocktail_id=cocktail.id,
                                        version=draft.number))
            except DomainError as exc:
                whole = _place_errors(form, exc, positions)
                status = exc.status
    elif request.method == "POST":
        status = 400
    form.offer_rows(ingredient_choices(_active_ingredients()))
    return render_template("cocktails/editor.html", form=form, cocktail=cocktail, base=base,
                           component_errors=whole, composition=composition), status


def _errors_from_preview(form, errors: dict) -> None:
    for key, messages in errors.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[1].isdecimal() and int(parts[1]) < len(form.components.entries):
            field = getattr(form.components.entries[int(parts[1])].form, parts[2], None)
            if field is not None:
                field.errors = list(field.errors or []) + list(messages)


@bp.route("/new", methods=["GET", "POST"])
@require(COCKTAILS_EDIT)
def new():
    return _editor(CocktailForm(), None, None)


@bp.route("/<int:cocktail_id>/edit", methods=["GET", "POST"])
@require(COCKTAILS_EDIT)
def edit(cocktail_id: int):
    cocktail = services.get_cocktail(db.session, cocktail_id)
    if cocktail.status == "retired":
        flash(_("%(name)s is retired: it can no longer be changed.", name=cocktail.name), "warning")
        return redirect(url_for("cocktails.detail", cocktail_id=cocktail.id))
    base = services.pending_draft(cocktail) or services.shown_version(cocktail)
    form = CocktailForm()
    if request.method == "GET":
        form.name.data, form.area.data = cocktail.name, base.area
        form.indication.data, form.storage.data, form.notes.data = base.indication, base.storage, base.notes
        for c in base.components:
            form.components.append_entry({"ingredient_id": str(c.ingredient_id),
                                          "amount": to_api(c.amount), "unit": c.unit})
    return _editor(form, cocktail, base)


def _empty(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@bp.post("/preview")
@require(COCKTAILS_EDIT)
def preview():
    """The editor's live totals (JSON). Body: ``{"components": [{"row", "ingredient_id",
    "amount", "unit"}]}``; the CSRF token comes in the ``X-CSRFToken`` header."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("components"), list):
        return jsonify({"error": "Send {\"components\": [...]}."}), 400
    rows = []
    for position, item in enumerate(data["components"]):
        if not isinstance(item, dict):
            return jsonify({"error": "Each component is an object."}), 400
        row = item.get("row", position)
        if isinstance(row, bool) or not isinstance(row, int):
            return jsonify({"error": "'row' is a whole number."}), 400
        ingredient_id, amount, unit = (item.get(k) for k in ("ingredient_id", "amount", "unit"))
        if _empty(ingredient_id) and _empty(amount):
            continue  # an empty row: nothing to say about it yet
        rows.append((row, ComponentInput(None if _empty(ingredient_id) else ingredient_id,
                                         amount, unit)))
    result = compute_preview(db.session, rows)
    return jsonify({
        "lines": [{"row": line.index, "ingredient_id": line.ingredient_id,
                   "ingredient_name": line.ingredient_name,
                   "stock_quantity": dec(line.stock_quantity), "stock_unit": line.stock_unit,
                   "concentration": dec(line.concentration), "concentration_unit": line.concentration_unit,
                   "usable": dec(line.usable)} for line in result.lines],
        "total_volume_ml": dec(result.total_volume_ml),
        "doses_possible": result.doses_possible,
        "errors": result.errors,
    })


# --- approve, retire -----------------------------------------------------------------

def _state_change(cocktail_id: int, form, action, done: str):
    if not form.validate_on_submit():
        flash("The form expired; reload the page and try again.", "danger")
        return redirect(url_for("cocktails.detail", cocktail_id=cocktail_id))
    try:
        action()
    except DomainError as exc:
        throw_away_changes()
        flash(tr(exc.message), "danger")
        cocktail = services.get_cocktail(db.session, cocktail_id)
        context = _detail_context(cocktail, services.shown_version(cocktail))
        return render_template("cocktails/detail.html", **context), exc.status
    flash(done, "success")
    return redirect(url_for("cocktails.detail", cocktail_id=cocktail_id))


@bp.post("/<int:cocktail_id>/approve")
@require(COCKTAILS_APPROVE)
def approve(cocktail_id: int):
    cocktail = services.get_cocktail(db.session, cocktail_id)
    form = ApproveForm(prefix="approve")
    return _state_change(
        cocktail_id, form,
        lambda: services.approve_cocktail(
            db.session, current_user, cocktail_id,
            single_pharmacist=current_app.config["SINGLE_PHARMACIST_MODE"],
            confirm_self_approval=form.confirm_self_approval.data),
        f"{cocktail.name} approved: it is the active version now.")


@bp.post("/<int:cocktail_id>/retire")
@require(COCKTAILS_APPROVE)
def retire(cocktail_id: int):
    cocktail = services.get_cocktail(db.session, cocktail_id)
    form = RetireForm(prefix="retire")
    return _state_change(
        cocktail_id, form,
        lambda: services.retire_cocktail(db.session, current_user, cocktail_id,
                                         reason=form.reason.data or ""),
        f"{cocktail.name} retired: it can no longer be prepared.")
