"""Whether a request sent again with an idempotency key is the request the key was first
used for (SPEC §7): the same key with another cocktail, doses, patient or override reason
is refused (409 ``idempotency_mismatch``), never answered with the first batch, since that
would hide from the pharmacist what the second request would have met (a safety block,
a shortfall).

The first request is read back from the batch it made, so no fingerprint is stored. The
batch keeps an override reason only where the safety screen blocked; where it did not,
the reason changed nothing and was not kept, so it is not compared (a retry that repeats
an unneeded reason is the same preparation).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preparation:
    """What a preparation request asks for, after cleaning (doses a whole number, the
    override reason stripped, ``None`` when empty)."""

    cocktail_id: int
    doses: int
    patient_id: int | None
    override_reason: str | None


def differences(made: Preparation, asked: Preparation) -> tuple[str, ...]:
    """The names of what ``asked`` changes from the preparation ``made`` (as its batch
    records it, ``override_reason`` the one kept); empty when it is the same request."""
    found = []
    if asked.cocktail_id != made.cocktail_id:
        found.append("cocktail")
    if asked.doses != made.doses:
        found.append("doses")
    if asked.patient_id != made.patient_id:
        found.append("patient")
    if made.override_reason is not None and asked.override_reason != made.override_reason:
        found.append("override reason")
    return tuple(found)
