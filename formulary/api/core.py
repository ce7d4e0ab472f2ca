"""The API's frame: route declaration, bearer authentication, JSON in and out, paging,
and the OpenAPI document built from the declarations.

The API authenticates only from the ``Authorization`` header, never from the session
cookie, so that a page on another site cannot ride a logged-in user's cookie into this
CSRF-exempt blueprint.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import wraps
from typing import Any, Callable

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy import func, select
from werkzeug.exceptions import RequestEntityTooLarge

from formulary.api import schema as S
from formulary.auth.services import user_for_token
from formulary.db import MAX_ID
from formulary.domain.dates import check_date_range, parse_iso_date
from formulary.domain.errors import (DomainError, Forbidden, MalformedRequest, ValidationError,
                                     refuse_unknown_fields)
from formulary.domain.messages import msg
from formulary.domain.text import clean_text
from formulary.extensions import db
from formulary.request_text import clean_value

bp = Blueprint("api", __name__, url_prefix="/api/v1")


class Unauthorized(DomainError):
    code = "unauthorized"
    status = 401


@dataclass
class RouteDoc:
    rule: str
    methods: tuple[str, ...]
    endpoint: str
    summary: str
    tag: str
    permission: str | None
    auth: bool
    body: dict | None = None
    body_content: str = "application/json"
    query: tuple = ()
    responses: dict = field(default_factory=dict)
    description: str = ""


ROUTES: list[RouteDoc] = []


def current_api_user():
    return g.api_user


def _authenticate():
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send 'Authorization: Bearer TOKEN' (POST /api/v1/tokens gives one).")
    user = user_for_token(db.session, token.strip())
    if user is None:
        raise Unauthorized("This token is unknown, expired or revoked.")
    return user


def api_route(rule: str, methods=("GET",), *, summary: str, tag: str,
              permission: str | None = None, auth: bool = True, body: dict | None = None,
              body_content: str = "application/json", query=(), responses: dict | None = None,
              description: str = "") -> Callable:
    """Declare an API route: registers the URL rule, the auth and role check, and its
    entry in the OpenAPI document.

    ``query`` is a sequence of ``(name, schema, description)``; ``responses`` maps a
    success status to a schema (or ``None`` for a body-less answer, or a content-type
    string for a file).
    """
    methods = tuple(m.upper() for m in methods)

    def decorate(fn):
        @wraps(fn)
        def view(**kwargs):
            if auth:
                user = _authenticate()
                g.api_user = user
                if permission is not None and not user.may(permission):
                    raise Forbidden("Your role may not do this.")
            return fn(**kwargs)

        view.api_permission = permission  # read by the role-matrix test
        bp.add_url_rule(rule, endpoint=fn.__name__, view_func=view, methods=list(methods))
        ROUTES.append(RouteDoc(rule=rule, methods=methods, endpoint=fn.__name__, summary=summary,
                               tag=tag, permission=permission, auth=auth, body=body,
                               body_content=body_content, query=tuple(query),
                               responses=dict(responses or {200: None}), description=description))
        return view

    return decorate


# --- JSON in --------------------------------------------------------------------------

def _no_constant(name):
    raise ValueError(f"{name} is not a number")


def json_body() -> dict:
    """The request's JSON object; numbers are read as Decimal (never float), and every
    string, key or value at any depth, is cleaned once here (``clean_json_text``)."""
    raw = request.get_data(cache=True)
    if not raw:
        raise MalformedRequest("The request needs a JSON object body.")
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit and request.content_length is None and len(raw) >= limit:
        # A body sent without a length (chunked) is cut off by werkzeug at the limit,
        # silently when read whole: what was read is only its beginning.
        raise RequestEntityTooLarge()
    try:
        data = json.loads(raw.decode("utf-8"), parse_float=Decimal, parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedRequest(msg("The body is not valid JSON: %(error)s",
                                   error=exc)) from None
    if not isinstance(data, dict):
        raise MalformedRequest("The body must be a JSON object.")
    try:
        too_large = _too_large_integers(data)
    except RecursionError:
        raise MalformedRequest("The body is nested too deeply.") from None
    if too_large:
        # No id, count or amount of the clinic is that large, and the database cannot
        # even be asked about it (integer overflow).
        raise ValidationError("A whole number is too large.",
                              fields={k: [msg("Must be at most %(max)s.", max=MAX_ID)]
                                      for k in too_large})
    return clean_json_text(data)


def clean_json_text(value, path: str = ""):
    """``value`` with every string cleaned (SPEC §3): invisible characters removed, NFC;
    NUL or an unpaired surrogate is refused with 422 on the field's dotted path (a key
    holding one on its parent's). Passwords are kept as typed, only checked."""
    if isinstance(value, str):
        return clean_value(path.rsplit(".", 1)[-1], value, path) if path else clean_text(value, "body")
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            key = clean_text(key, path or "body")
            out[key] = clean_json_text(item, f"{path}.{key}" if path else key)
        return out
    if isinstance(value, list):
        return [clean_json_text(item, f"{path}.{i}" if path else str(i))
                for i, item in enumerate(value)]
    return value


def _too_large_integers(value, path: str = "") -> list[str]:
    if isinstance(value, int) and not isinstance(value, bool):
        return [path or "body"] if abs(value) > MAX_ID else []
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return []
    found = []
    for key, item in items:
        found += _too_large_integers(item, f"{path}.{key}" if path else str(key))
    return found


def only_fields(data: dict, allowed) -> dict:
    """Refuse fields the route does not know, so a typo is not silently ignored."""
    refuse_unknown_fields(data, allowed)
    return data


def want_type(data: dict, name: str, types, label: str, *, required: bool = False,
              allow_none: bool = True):
    """Fetch ``data[name]`` and check its JSON type (bool is not an int)."""
    if name not in data:
        if required:
            raise ValidationError("This field is required.", field=name)
        return None
    value = data[name]
    if value is None:
        if allow_none and not required:
            return None
        raise ValidationError("This field is required.", field=name)
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise ValidationError(msg("Must be %(label)s.",
                                  label=label), field=name)
    if not isinstance(value, types):
        raise ValidationError(msg("Must be %(label)s.",
                                  label=label), field=name)
    return value


# --- query arguments ------------------------------------------------------------------

def arg_int(name: str, default: int | None = None, *, minimum: int | None = None,
            maximum: int | None = None) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"-?\d{1,12}", raw.strip()):
        raise ValidationError(msg("'%(name)s' must be a whole number.",
                                  name=name), field=name)
    value = int(raw)
    if minimum is not None and value < minimum:
        raise ValidationError(msg("'%(name)s' must be at least %(minimum)s.",
                                  name=name, minimum=minimum), field=name)
    if maximum is not None and value > maximum:
        raise ValidationError(msg("'%(name)s' must be at most %(maximum)s.",
                                  name=name, maximum=maximum), field=name)
    return value


def arg_date(name: str, default: date | None = None) -> date | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    return parse_date(raw, name)


def arg_date_range(start_name: str = "from", end_name: str = "to", **rules
                   ) -> tuple[date | None, date | None]:
    """``?from=&to=`` read and checked by the one range rule every list, page and export
    uses (:func:`formulary.domain.dates.check_date_range`): ``from`` after ``to`` is 422."""
    return check_date_range(arg_date(start_name), arg_date(end_name), start_field=start_name,
                            end_field=end_name, **rules)


def parse_date(raw, name: str) -> date:
    return parse_iso_date(raw, name)


def arg_bool(name: str) -> bool:
    return request.args.get(name, "").strip().lower() in ("1", "true", "yes", "on")


PAGE_QUERY = (
    ("page", S.integer(minimum=1), "page number, from 1"),
    ("per_page", S.integer(minimum=1), "items per page (default 50, at most 500)"),
)


def sort_query(spec) -> tuple:
    """The ``?sort=`` parameter of a list sorted by ``spec`` (a ``listing.SortColumns``)."""
    values = [v for k in spec.keys for v in (k, "-" + k)]
    return ("sort", S.string(enum=values),
            f"order: a column, '-' before it for descending (default {spec.default}); "
            "an unknown column is 422")


def paginate(stmt, serialize: Callable[[Any], dict] | None = None, *, default_per_page: int = 50,
             scalars: bool = True, sort=None, unique: bool = False,
             serialize_all: Callable[[list], list[dict]] | None = None,
             read: Callable[[list], list] | None = None, count=None,
             page_rows: Callable | None = None) -> dict:
    """Run a select with ``?page=&per_page=`` (and ``?sort=`` when ``sort``, a
    ``listing.SortColumns``, is given) and answer ``{items, total, page, per_page}``.
    A page past the last answers the last page (``page`` says which). Each row is
    written by ``serialize``, or the page's rows all at once by ``serialize_all`` (which
    may read what they share in one statement). ``read``: turns the page's rows into what
    ``serialize`` takes, all at once (e.g. their lines in one statement); ``count``: a
    cheaper statement counting the same rows; ``page_rows(sort, page, per_page, total)``:
    ``(rows, page)`` chosen by the list itself (``stmt`` then only counts)."""
    from formulary.listing import api_sort, count_of, paged

    page = arg_int("page", 1, minimum=1)
    per_page = arg_int("per_page", default_per_page, minimum=1,
                       maximum=current_app.config["API_MAX_PER_PAGE"])
    order = api_sort(sort) if sort is not None else None
    if page_rows is not None:
        total = (db.session.execute(count).scalar_one() if count is not None
                 else count_of(stmt))
        rows, page = page_rows(order, page, per_page, total)
    else:
        if order is not None:
            stmt = sort.apply(stmt, order)
        rows, page, total = paged(stmt, page, per_page, objects=scalars, unique=unique,
                                  count=count)
    if read is not None:
        rows = read(rows)
    items = serialize_all(list(rows)) if serialize_all is not None else [serialize(r) for r in rows]
    return {"items": items, "total": total, "page": page, "per_page": per_page}


# --- JSON out -------------------------------------------------------------------------

def dec(value: Decimal | None) -> str | None:
    from formulary.domain.units import to_api

    return None if value is None else to_api(value)


def json_encoder():
    """The ``encode`` of one JSON encoder with the settings of the app's JSON provider
    (compact), for a body written in parts and put together as text (the provider's
    ``dumps`` makes an encoder per call)."""
    provider = current_app.json
    return json.JSONEncoder(
        skipkeys=False, ensure_ascii=provider.ensure_ascii, check_circular=True,
        allow_nan=True, sort_keys=provider.sort_keys, separators=(",", ":"),
        default=provider.default).encode


def writes_compact_json() -> bool:
    """Whether ``jsonify`` writes compact JSON (not indented, as in debug): what a body
    written by ``json_encoder`` must be to be the same text."""
    compact = getattr(current_app.json, "compact", None)
    return compact is True or (compact is None and not current_app.debug)


def json_with_lists(body: dict, key: str, lists: list[str]):
    """The response ``jsonify(body)`` gives, where ``body`` holds, in order, an empty list
    under ``key`` for each text of ``lists`` (each a JSON list written apart: once for
    many items, or kept between requests), the texts put in their places: one encoding
    of the body, not one per item. ``"key":[]`` stands nowhere else in a compact body but
    as that key (a quote inside a string is written ``\"``). ``None`` when the app writes
    indented JSON (debug) or the body is not of that shape: the caller then writes the
    lists into ``body`` the plain way."""
    if not writes_compact_json():
        return None
    pieces = json_encoder()(body).split(f'"{key}":[]')
    if len(pieces) != len(lists) + 1:
        return None
    text = [pieces[0]]
    for written, piece in zip(lists, pieces[1:], strict=True):
        text += (f'"{key}":', written, piece)
    text.append("\n")
    return current_app.response_class("".join(text), mimetype="application/json")


def iso(value: datetime | date | None) -> str | None:
    return None if value is None else value.isoformat()


def created(body: dict):
    response = jsonify(body)
    response.status_code = 201
    return response


# --- the OpenAPI document -------------------------------------------------------------

def _openapi_path(rule: str) -> tuple[str, list[dict]]:
    params = []

    def repl(match):
        converter, name = match.group(1), match.group(2)
        schema = {"type": "integer"} if converter == "int" else {"type": "string"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
        return "{" + name + "}"

    path = re.sub(r"<(?:(\w+):)?(\w+)>", repl, rule)
    return path, params


def build_openapi() -> dict:
    paths: dict[str, dict] = {}
    for doc in ROUTES:
        path, path_params = _openapi_path(doc.rule)
        for method in doc.methods:
            op: dict[str, Any] = {
                "operationId": f"{doc.endpoint}_{method.lower()}" if len(doc.methods) > 1 else doc.endpoint,
                "summary": doc.summary,
                "tags": [doc.tag],
                "parameters": list(path_params) + [
                    {"name": n, "in": "query", "required": False, "schema": s, "description": d}
                    for n, s, d in doc.query
                ],
                "responses": {},
            }
            if doc.description:
                op["description"] = doc.description
            if doc.permission:
                op["x-permission"] = doc.permission
            if not doc.auth:
                op["security"] = []
            if doc.body is not None:
                op["requestBody"] = {"required": True,
                                     "content": {doc.body_content: {"schema": doc.body}}}
            for status, schema in doc.responses.items():
                if schema is None:
                    op["responses"][str(status)] = {"description": "done"}
                elif isinstance(schema, str):
                    op["responses"][str(status)] = {
                        "description": "a file",
                        "content": {schema: {"schema": {"type": "string", "format": "binary"}}}}
                else:
                    op["responses"][str(status)] = {
                        "description": "ok", "content": {"application/json": {"schema": schema}}}
            errors = {"400", "422"} if (doc.body is not None or doc.query) else set()
            if doc.auth:
                errors |= {"401", "403"}
            if path_params or any(n.endswith("_id") for n, _, _ in doc.query):
                errors.add("404")  # an unknown object named in the path or the query
            if method in ("POST", "PUT", "PATCH", "DELETE"):
                errors |= {"400", "409", "422"}
            for status in sorted(errors):
                op["responses"][status] = {"description": "error",
                                           "content": {"application/json": {"schema": S.ERROR}}}
            paths.setdefault(path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Formulary API", "version": "1",
                 "description": "Stock room, formulary and compounding log of a mesotherapy clinic."},
        "servers": [{"url": bp.url_prefix}],  # the paths are relative to /api/v1
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(S.COMPONENTS.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(build_openapi())
