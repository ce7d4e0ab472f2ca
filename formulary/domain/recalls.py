"""The recall response (SPEC §12): a recall's worklist of patients and when it is closed.

A recall lists every patient its lot reached (through a batch made for them or an
administration). Each patient on the worklist has a status:

=============  ==================================================================
status         meaning
=============  ==================================================================
to_contact     not dealt with yet (every patient starts here)
contacted      reached and told; the note says what was agreed
unreachable    tried and could not be reached; the note says how
not_needed     nothing to say (e.g. the batch made for them was never given)
=============  ==================================================================

A recall is ``open`` while any patient is ``to_contact`` and ``closed`` otherwise (a
recall that reached nobody is closed from the start). Setting a patient back to
``to_contact`` opens it again.
"""

from __future__ import annotations

from collections.abc import Iterable

PATIENT_STATUSES = ("to_contact", "contacted", "unreachable", "not_needed")
RECALL_STATUSES = ("open", "closed")
PATIENT_STATUS_LABELS = {"to_contact": "to contact", "contacted": "contacted",
                         "unreachable": "unreachable", "not_needed": "not needed"}


def recall_status(patient_statuses: Iterable[str]) -> str:
    """``open`` while a patient is still ``to_contact``, else ``closed``."""
    statuses = list(patient_statuses)
    for status in statuses:
        if status not in PATIENT_STATUSES:
            raise ValueError(f"unknown worklist status {status!r}")
    return "open" if "to_contact" in statuses else "closed"


def status_change(before_recall: str, after_recall: str) -> str | None:
    """What a patient's status change did to its recall: ``closed``, ``reopened`` or
    nothing."""
    if before_recall == after_recall:
        return None
    return "closed" if after_recall == "closed" else "reopened"
