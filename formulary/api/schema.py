"""A small vocabulary for declaring JSON shapes next to the routes that use them.

The shapes feed the OpenAPI document; the rules themselves (what is a valid quantity, a
valid unit...) live in the domain and the services, so they are written once.
"""

from __future__ import annotations

from typing import Any

COMPONENTS: dict[str, dict] = {}


def component(name: str, schema: dict) -> dict:
    """Register a named schema; return a ``$ref`` to it."""
    COMPONENTS[name] = schema
    return ref(name)


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict) -> dict:
    if "$ref" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    out = dict(schema)
    t = out.get("type")
    if isinstance(t, str):
        out["type"] = [t, "null"]
        if "enum" in out:
            out["enum"] = list(out["enum"]) + [None]
    elif t is None:
        return {"anyOf": [schema, {"type": "null"}]}
    return out


def string(*, fmt: str | None = None, enum=None, max_length: int | None = None,
           description: str | None = None, null: bool = False) -> dict:
    s: dict[str, Any] = {"type": "string"}
    if fmt:
        s["format"] = fmt
    if enum is not None:
        s["enum"] = list(enum)
    if max_length:
        s["maxLength"] = max_length
    if description:
        s["description"] = description
    return nullable(s) if null else s


def integer(*, null: bool = False, minimum: int | None = None, description: str | None = None) -> dict:
    s: dict[str, Any] = {"type": "integer"}
    if minimum is not None:
        s["minimum"] = minimum
    if description:
        s["description"] = description
    return nullable(s) if null else s


def boolean(*, null: bool = False) -> dict:
    return nullable({"type": "boolean"}) if null else {"type": "boolean"}


DECIMAL_PATTERN = r"^-?\d+(\.\d+)?$"


def decimal_out(*, null: bool = False, description: str | None = None) -> dict:
    """A quantity in a response: an exact decimal string such as ``"2.5"``."""
    s: dict[str, Any] = {"type": "string", "pattern": DECIMAL_PATTERN}
    if description:
        s["description"] = description
    return nullable(s) if null else s


def decimal_in(*, description: str | None = None) -> dict:
    """A quantity in a request: a JSON number or a decimal string."""
    s: dict[str, Any] = {"anyOf": [{"type": "number"}, {"type": "string"}]}
    if description:
        s["description"] = description
    return s


def array(items: dict, *, description: str | None = None) -> dict:
    s: dict[str, Any] = {"type": "array", "items": items}
    if description:
        s["description"] = description
    return s


def obj(required=(), additional: bool = True, description: str | None = None, **props) -> dict:
    s: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        s["required"] = list(required)
    if not additional:
        s["additionalProperties"] = False
    if description:
        s["description"] = description
    return s


def page_of(item: dict) -> dict:
    return obj(required=("items", "total", "page", "per_page"), items=array(item),
               total=integer(minimum=0), page=integer(minimum=1), per_page=integer(minimum=1))


ERROR = component("Error", obj(
    required=("error",),
    error=obj(required=("code", "message", "fields"),
              code=string(description="machine-readable: malformed, unauthorized, forbidden, "
                                      "not_found, invalid, insufficient_stock, safety_block, "
                                      "duplicate, invalid_state, idempotency_mismatch, ..."),
              message=string(),
              fields={"type": "object", "additionalProperties": array(string())}),
))
