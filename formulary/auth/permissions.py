"""Roles and what each may do: the matrix of SPEC §2, written once.

Views and API routes name a permission; menus show what the user's role holds.
"""

from __future__ import annotations

from formulary.i18n import _l

ROLES = ("admin", "manager", "pharmacist", "practitioner")
ROLE_LABELS = {
    "admin": _l("Administrator"),
    "manager": _l("Manager"),
    "pharmacist": _l("Pharmacist"),
    "practitioner": _l("Practitioner"),
}

VIEW = "view"                    # stock, cocktails, batches
INVENTORY = "inventory"          # ingredients, receive stock, adjust, quarantine, recall
COCKTAILS_EDIT = "cocktails.edit"
COCKTAILS_APPROVE = "cocktails.approve"
BATCHES = "batches"              # prepare, verify, discard
PATIENTS = "patients"            # patients, allergies, conditions: view and edit
SAFETY = "safety"                # safety screen of a patient
REPORTS = "reports"              # exports and reports
AUDIT = "audit"                  # read and export the audit log
ADMIN = "admin"                  # users, allergen groups, cross-reactivity
COURSES = "courses"              # record courses, consent, administrations, adverse events
COURSES_VIEW = "courses.view"    # read them (patient data: never the manager)
RECALLS = "recalls"              # a recall's worklist: read it, set a patient's status
RECALLS_EXPORT = "recalls.export"  # export the worklist (patient data and an export)
COURSES_EXPORT = "courses.export"  # export them (an export, with patient data: not the
                                   # practitioner, as no export is; never the manager)

PERMISSIONS = (VIEW, INVENTORY, COCKTAILS_EDIT, COCKTAILS_APPROVE, BATCHES, PATIENTS,
               SAFETY, REPORTS, AUDIT, ADMIN, COURSES, COURSES_VIEW, COURSES_EXPORT, RECALLS,
               RECALLS_EXPORT)

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(PERMISSIONS),
    "manager": frozenset({VIEW, REPORTS, AUDIT}),
    "pharmacist": frozenset({VIEW, INVENTORY, COCKTAILS_EDIT, COCKTAILS_APPROVE, BATCHES,
                             PATIENTS, SAFETY, REPORTS, COURSES_VIEW, COURSES_EXPORT, RECALLS,
                             RECALLS_EXPORT}),
    "practitioner": frozenset({VIEW, PATIENTS, SAFETY, COURSES, COURSES_VIEW, RECALLS}),
}


def role_may(role: str | None, permission: str) -> bool:
    return permission in ROLE_PERMISSIONS.get(role or "", frozenset())


def roles_with(permission: str) -> tuple[str, ...]:
    return tuple(r for r in ROLES if role_may(r, permission))
