"""Cocktails (SPEC §5, §9).

A read of ``/cocktails/{id}`` gives the version in force (for a retired cocktail, the one
last in force; for a cocktail never approved, its latest draft): its fields, ``version``
(its number), ``version_status``, and ``components`` each with ``stock_quantity_per_dose``
and ``stock_unit``. ``status`` is the cocktail's (draft, active, retired). When an active
cocktail has a draft awaiting approval, ``draft_version`` gives its number (read it at
``/cocktails/{id}/versions/{number}``). ``versions`` lists every version with who
approved it and when.

``PUT /cocktails/{id}`` takes the same fields as a create; a field left out keeps the
value of the version the read shows. On a draft it changes the draft; on an active
cocktail it makes the next draft version, and answers with the read (whose
``draft_version`` is then set).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType

from flask import current_app, request

from formulary.api import schema as S
from formulary.api.core import (PAGE_QUERY, api_route, created, current_api_user, dec, iso,
                                json_body, json_with_lists, only_fields, paginate,
                                sort_query, want_type)
from formulary.auth.permissions import COCKTAILS_APPROVE, COCKTAILS_EDIT, VIEW
from formulary.cocktails import revision, services
from formulary.cocktails.composition import (compose_rows, version_component_rows,
                                             version_composition)
from formulary.cocktails.models import AREAS, COCKTAIL_STATUSES, VERSION_STATUSES
from formulary.cocktails.rows import LISTED_COLUMNS, api_listed
from formulary.domain.doses import ComponentInput
from formulary.domain.errors import ValidationError, refuse_unknown_fields
from formulary.domain.messages import msg
from formulary.domain.units import UNITS
from formulary.extensions import db
from formulary.listing import count_statement

TAG = "cocktails"
FIELDS = {"name", "area", "indication", "storage", "notes", "components"}

COMPONENT_IN = S.obj(required=("ingredient_id", "amount", "unit"), ingredient_id=S.integer(),
                     amount=S.decimal_in(description="per dose"), unit=S.string(enum=UNITS))
COCKTAIL_IN = S.component("CocktailIn", S.obj(
    required=("name", "area", "components"), name=S.string(max_length=160),
    area=S.string(enum=AREAS), indication=S.string(max_length=200),
    storage=S.string(enum=("room", "fridge"), description="default fridge"),
    notes=S.string(), components=S.array(COMPONENT_IN)))
COMPONENT_OUT = S.component("CocktailComponent", S.obj(
    required=("ingredient_id", "amount", "unit", "stock_quantity_per_dose", "stock_unit"),
    ingredient_id=S.integer(), ingredient_name=S.string(), amount=S.decimal_out(),
    unit=S.string(enum=UNITS), stock_quantity_per_dose=S.decimal_out(),
    stock_unit=S.string(enum=UNITS),
    concentration=S.nullable(S.obj(amount=S.decimal_out(), unit=S.string(
        description="per mL of the mix: mg, IU or U"))),
))
VERSION_SUMMARY = S.obj(number=S.integer(), status=S.string(enum=VERSION_STATUSES),
                        created_at=S.string(fmt="date-time"),
                        created_by=S.string(null=True),
                        approved_at=S.string(fmt="date-time", null=True),
                        approved_by=S.string(null=True))
VERSION_OUT = S.component("CocktailVersion", S.obj(
    required=("id", "cocktail_id", "name", "version", "version_status", "components"),
    id=S.integer(description="the version's id"), cocktail_id=S.integer(), name=S.string(),
    version=S.integer(), version_status=S.string(enum=VERSION_STATUSES),
    area=S.string(enum=AREAS), indication=S.string(), storage=S.string(enum=("room", "fridge")),
    notes=S.string(), total_volume_ml=S.decimal_out(null=True),
    created_at=S.string(fmt="date-time"), approved_at=S.string(fmt="date-time", null=True),
    approved_by=S.string(null=True), components=S.array(COMPONENT_OUT)))
COCKTAIL_OUT = S.component("Cocktail", S.obj(
    required=("id", "name", "status", "version", "components"),
    id=S.integer(), name=S.string(), status=S.string(enum=COCKTAIL_STATUSES),
    version=S.integer(), version_id=S.integer(), version_status=S.string(enum=VERSION_STATUSES),
    area=S.string(enum=AREAS), indication=S.string(), storage=S.string(enum=("room", "fridge")),
    notes=S.string(), total_volume_ml=S.decimal_out(null=True),
    approved_at=S.string(fmt="date-time", null=True), approved_by=S.string(null=True),
    active_version=S.integer(null=True), draft_version=S.integer(null=True),
    components=S.array(COMPONENT_OUT), versions=S.array(VERSION_SUMMARY)))


def _who(user) -> str | None:
    return None if user is None else user.username


def version_json(cocktail, version) -> dict:
    """The version as the API writes it (its components and ingredients loaded)."""
    comp = version_composition(version)
    return {
        "id": version.id, "cocktail_id": cocktail.id, "name": cocktail.name,
        "version": version.number, "version_status": version.status,
        "area": version.area, "indication": version.indication, "storage": version.storage,
        "notes": version.notes, "total_volume_ml": dec(comp.total_volume_ml),
        "created_at": iso(version.created_at), "approved_at": iso(version.approved_at),
        "approved_by": _who(version.approved_by),
        "components": [_component_json(line) for line in comp.lines],
    }


def _component_json(line) -> dict:
    return {
        "ingredient_id": line.ingredient_id, "ingredient_name": line.ingredient_name,
        "amount": dec(line.amount), "unit": line.unit,
        "stock_quantity_per_dose": dec(line.stock_quantity), "stock_unit": line.stock_unit,
        "concentration": None if line.concentration is None else {
            "amount": dec(line.concentration), "unit": line.concentration_unit},
    }


def cocktail_json(cocktail, *, with_versions: bool = True) -> dict:
    """The cocktail as the API writes it (the list writes the same from plain rows:
    ``_list_items``)."""
    version = services.shown_version(cocktail)
    body = version_json(cocktail, version)
    body.pop("cocktail_id")
    draft = services.pending_draft(cocktail)
    active = next((v for v in cocktail.versions if v.id == cocktail.active_version_id), None)
    body.update({"id": cocktail.id, "version_id": version.id, "status": cocktail.status,
                 "active_version": active.number if active is not None else None,
                 "draft_version": draft.number if draft is not None and draft is not version else None})
    if with_versions:
        body["versions"] = [{"number": v.number, "status": v.status,
                             "created_at": iso(v.created_at), "created_by": _who(v.created_by),
                             "approved_at": iso(v.approved_at), "approved_by": _who(v.approved_by)}
                            for v in cocktail.versions]
    return body


def _components(raw) -> list[ComponentInput] | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise ValidationError("Components must be a list of {ingredient_id, amount, unit}.",
                              field="components")
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ValidationError("Each component is an object {ingredient_id, amount, unit}.",
                                  field=f"components.{i}")
        refuse_unknown_fields(item, ("ingredient_id", "amount", "unit"), prefix=f"components.{i}.")
        out.append(ComponentInput(item.get("ingredient_id"), item.get("amount"), item.get("unit")))
    return out


def _input(data: dict, base=None, cocktail=None) -> services.CocktailInput:
    def pick(name, default):
        return data[name] if name in data else default

    components = _components(data.get("components")) if "components" in data else None
    if base is not None:
        if components is None and "components" not in data:
            components = [ComponentInput(c.ingredient_id, c.amount, c.unit) for c in base.components]
        return services.CocktailInput(
            name=pick("name", cocktail.name), area=pick("area", base.area),
            indication=pick("indication", base.indication), storage=pick("storage", base.storage),
            notes=pick("notes", base.notes), components=components)
    return services.CocktailInput(name=data.get("name"), area=data.get("area"),
                                  indication=data.get("indication", ""),
                                  storage=data.get("storage", "fridge"),
                                  notes=data.get("notes", ""), components=components)


def _reload(cocktail_id: int):
    db.session.expire_all()
    return services.get_cocktail(db.session, cocktail_id)


@api_route("/cocktails", ["GET"], summary="List cocktails", tag=TAG, permission=VIEW,
           query=(("area", S.string(enum=AREAS), "area of the version shown"),
                  ("status", S.string(enum=COCKTAIL_STATUSES), "the cocktail's status"),
                  ("q", S.string(), "search in name and indication"),
                  sort_query(services.COCKTAIL_SORT), *PAGE_QUERY),
           responses={200: S.page_of(COCKTAIL_OUT)})
def list_cocktails():
    area = request.args.get("area") or None
    status = request.args.get("status") or None
    if area is not None and area not in AREAS:
        raise ValidationError(msg("Unknown area: use one of %(choices)s.",
                                  choices=', '.join(AREAS)), field="area")
    if status is not None and status not in COCKTAIL_STATUSES:
        raise ValidationError(msg("Unknown status: use one of %(choices)s.",
                                  choices=', '.join(COCKTAIL_STATUSES)),
                              field="status")
    filters = dict(area=area, status=status, q=request.args.get("q") or None)
    components: list[str] = []  # each item's components as JSON text, in order
    body = paginate(services.list_statement(**filters, columns=LISTED_COLUMNS),
                    serialize_all=lambda rows: _list_items(rows, components),
                    sort=services.COCKTAIL_SORT, scalars=False,
                    count=count_statement(services.list_statement(**filters)))
    return _list_response(body, components)


def _list_items(cocktails, components: list[str]) -> list[dict]:
    """The page's cocktails (rows of ``LISTED_COLUMNS``) as ``cocktail_json`` writes them
    without versions, but their ``components`` empty: their JSON text is appended to
    ``components``, in order. The versions are read as plain rows in one statement
    (``rows.api_listed``); the shown versions' compositions are written once per
    formulary revision (``_compositions``)."""
    listed = api_listed(db.session, cocktails)
    texts = _compositions(listed)
    items = []
    for cocktail, shown, active, draft in listed:
        # by position (a row's attributes are looked up by name, a tenth of the time)
        cocktail_id, name, status, _ = cocktail
        (version_id, _, number, version_status, area, indication, storage, notes,
         created_at, approved_at, approved_by, _) = shown
        total, text = texts[version_id]
        components.append(text)
        items.append({  # the keys in cocktail_json's order
            "id": cocktail_id, "name": name, "version": number,
            "version_status": version_status, "area": area, "indication": indication,
            "storage": storage, "notes": notes, "total_volume_ml": total,
            "created_at": iso(created_at), "approved_at": iso(approved_at),
            "approved_by": approved_by, "components": [], "version_id": version_id,
            "status": status, "active_version": active, "draft_version": draft})
    return items


_STORE = "formulary.api.cocktail_compositions"


def _compositions(listed) -> Mapping[int, tuple[str | None, str]]:
    """``(total_volume_ml, components)`` of each listed shown version's JSON, by version
    id: the total as ``dec`` writes it and the components' list as JSON text.

    A composition is worked out from the version's components and their ingredients
    only, tables whose every write renews the formulary revision's token in the writing
    transaction (``cocktails.revision``). Each worker keeps the texts it wrote under the
    token read in the same statement as the components they were written from, and
    serves them while the token read with the versions (``rows.api_listed``) is that
    one: a change committed by anyone is in the next list. Only the versions not kept are
    read (one statement); none when all are. Nothing is kept while a trigger is missing
    (``revision.may_keep``), nor under no token."""
    if not listed:
        return {}
    store = current_app.extensions.setdefault(_STORE, {})
    provider = current_app.json
    settings = (bool(provider.ensure_ascii), bool(provider.sort_keys))
    may_keep = revision.may_keep(db.session, store, "the cocktail list will work out "
                                 "every composition on every request")
    kept = store.get("kept") if may_keep else None
    token = listed[0].shown.revision
    texts = kept[1] if kept is not None and kept[0] == (token, settings) else {}
    missing = [item.shown.id for item in listed if item.shown.id not in texts]
    if not missing:
        return texts
    rows, read_at = version_component_rows(db.session, missing)
    ensure_ascii, sort_keys = settings
    encode = json.JSONEncoder(ensure_ascii=ensure_ascii, sort_keys=sort_keys,
                              separators=(",", ":")).encode
    written = {i: _composition_text(rows[i], encode) for i in missing}
    if may_keep and read_at is not None:
        base = kept[1] if kept is not None and kept[0] == (read_at, settings) else {}
        store["kept"] = ((read_at, settings), MappingProxyType({**base, **written}))
    return {**texts, **written}


def _composition_text(rows: tuple[tuple, ...], encode) -> tuple[str | None, str]:
    """A version's total volume and components' JSON text (``encode``: compact, with the
    JSON provider's settings) from its ``version_component_rows``."""
    comp = compose_rows(rows)
    return dec(comp.total_volume_ml), encode([_component_json(line) for line in comp.lines])


def _list_response(body: dict, components: list[str]):
    """``body`` (whose items' ``components`` are empty, their JSON text in
    ``components``) as the text ``jsonify`` writes for it with the components in place
    (``json_with_lists``); else the plain way."""
    response = json_with_lists(body, "components", components)
    if response is not None:
        return response
    for item, text in zip(body["items"], components, strict=True):
        item["components"] = json.loads(text)
    return body


@api_route("/cocktails", ["POST"], summary="Define a cocktail (draft version 1)", tag=TAG,
           permission=COCKTAILS_EDIT, body=COCKTAIL_IN, responses={201: COCKTAIL_OUT})
def create_cocktail():
    data = only_fields(json_body(), FIELDS)
    cocktail = services.create_cocktail(db.session, current_api_user(), _input(data))
    return created(cocktail_json(_reload(cocktail.id)))


@api_route("/cocktails/<int:cocktail_id>", ["GET"], summary="Read a cocktail", tag=TAG,
           permission=VIEW, responses={200: COCKTAIL_OUT})
def get_cocktail(cocktail_id: int):
    return cocktail_json(services.get_cocktail(db.session, cocktail_id))


@api_route("/cocktails/<int:cocktail_id>", ["PUT"],
           summary="Change a cocktail: its draft in place, or a new draft version of an active one",
           tag=TAG, permission=COCKTAILS_EDIT, body=COCKTAIL_IN, responses={200: COCKTAIL_OUT})
def update_cocktail(cocktail_id: int):
    data = only_fields(json_body(), FIELDS)
    cocktail = services.get_cocktail(db.session, cocktail_id)
    base = services.pending_draft(cocktail) or services.shown_version(cocktail)
    services.update_cocktail(db.session, current_api_user(), cocktail_id,
                             _input(data, base, cocktail))
    return cocktail_json(_reload(cocktail_id))


@api_route("/cocktails/<int:cocktail_id>/approve", ["POST"],
           summary="Approve the draft version: it becomes the active version", tag=TAG,
           permission=COCKTAILS_APPROVE,
           body=S.obj(version=S.integer(description="the draft's number, to approve exactly what was read"),
                      confirm_self_approval=S.string(
                          max_length=200, description="single-pharmacist mode only: the "
                          "cocktail's name, typed by the draft's writer to approve it")),
           responses={200: COCKTAIL_OUT},
           description="Four eyes: the writer of the draft may not approve it (409 invalid_state), "
                       "unless the clinic runs in single-pharmacist mode and the cocktail's name is "
                       "sent as `confirm_self_approval`; the audit entry then says so.")
def approve_cocktail(cocktail_id: int):
    data = only_fields(json_body() if request.get_data() else {}, {"version", "confirm_self_approval"})
    number = data.get("version")
    if number is not None and (isinstance(number, bool) or not isinstance(number, int)):
        raise ValidationError("Version must be a whole number.", field="version")
    want_type(data, "confirm_self_approval", str, "text")
    services.approve_cocktail(db.session, current_api_user(), cocktail_id, version_number=number,
                              single_pharmacist=current_app.config["SINGLE_PHARMACIST_MODE"],
                              confirm_self_approval=data.get("confirm_self_approval"))
    return cocktail_json(_reload(cocktail_id))


@api_route("/cocktails/<int:cocktail_id>/retire", ["POST"],
           summary="Retire a cocktail: it can no longer be prepared", tag=TAG,
           permission=COCKTAILS_APPROVE, body=S.obj(reason=S.string(max_length=300)),
           responses={200: COCKTAIL_OUT})
def retire_cocktail(cocktail_id: int):
    data = only_fields(json_body() if request.get_data() else {}, {"reason"})
    services.retire_cocktail(db.session, current_api_user(), cocktail_id,
                             reason=data.get("reason", ""))
    return cocktail_json(_reload(cocktail_id))


@api_route("/cocktails/<int:cocktail_id>/versions/<int:number>", ["GET"],
           summary="Read one version of a cocktail", tag=TAG, permission=VIEW,
           responses={200: VERSION_OUT})
def get_cocktail_version(cocktail_id: int, number: int):
    cocktail = services.get_cocktail(db.session, cocktail_id)
    return version_json(cocktail, services.version_by_number(cocktail, number))
