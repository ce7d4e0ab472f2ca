"""Domain errors: values with a code, raised by pure rules and services.

They are mapped in one place (``formulary/errors.py``) to a form error, a flash
message or the API's JSON envelope. ``fields`` maps a field name (dotted for
nested fields, e.g. ``components.0.amount``) to a list of messages.
"""

from __future__ import annotations

from formulary.domain.messages import msg


class DomainError(Exception):
    """Base of every refusal the application explains to a user."""

    code = "invalid"
    status = 422

    def __init__(self, message: str, *, field: str | None = None,
                 fields: dict[str, list[str]] | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.fields: dict[str, list[str]] = {k: list(v) for k, v in (fields or {}).items()}
        if field is not None:
            self.fields.setdefault(field, []).append(message)
        if code is not None:
            self.code = code

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message


class ValidationError(DomainError):
    """A field is invalid (HTTP 422)."""

    code = "invalid"
    status = 422


def refuse_unknown_fields(data: dict, allowed, prefix: str = "") -> None:
    """Refuse keys of ``data`` not in ``allowed``, so a typo is not silently ignored;
    ``prefix`` names a nested object in ``fields`` (``components.0.``)."""
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValidationError(msg("Unknown field(s): %(names)s.", names=", ".join(unknown)),
                              fields={f"{prefix}{k}": [msg("Unknown field.")] for k in unknown})


class MalformedRequest(DomainError):
    """The body could not be read at all (HTTP 400)."""

    code = "malformed"
    status = 400


class NotFound(DomainError):
    code = "not_found"
    status = 404


class Forbidden(DomainError):
    code = "forbidden"
    status = 403


class Conflict(DomainError):
    """The request is valid but clashes with the state of things (HTTP 409)."""

    code = "conflict"
    status = 409


class Duplicate(Conflict):
    code = "duplicate"


class InvalidState(Conflict):
    code = "invalid_state"


class InsufficientStock(Conflict):
    """Not enough usable stock. ``shortfalls`` maps an ingredient id to the missing
    quantity (Decimal, in the ingredient's stock unit)."""

    code = "insufficient_stock"

    def __init__(self, message: str, *, shortfalls: dict | None = None, **kw):
        super().__init__(message, **kw)
        self.shortfalls = dict(shortfalls or {})


class SafetyBlock(Conflict):
    code = "safety_block"

    def __init__(self, message: str, *, findings: tuple = (), **kw):
        super().__init__(message, **kw)
        self.findings = tuple(findings)


class IdempotencyMismatch(Conflict):
    """An idempotency key already used for another request (SPEC §7, §9)."""

    code = "idempotency_mismatch"
