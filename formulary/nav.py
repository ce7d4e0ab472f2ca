"""The main menu. An entry shows when its page exists and the user's role may open it."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_login import current_user

from formulary.auth import permissions as P


@dataclass(frozen=True)
class NavItem:
    label: str
    endpoint: str
    permission: str
    icon: str


MENU = (
    NavItem("Dashboard", "main.dashboard", P.VIEW, "speedometer2"),
    NavItem("Ingredients", "inventory.ingredients", P.VIEW, "capsule"),
    NavItem("Lots", "inventory.lots", P.VIEW, "box-seam"),
    NavItem("Receive", "inventory.receive", P.INVENTORY, "upc-scan"),
    NavItem("Cocktails", "cocktails.index", P.VIEW, "eyedropper"),
    NavItem("Patients", "patients.index", P.PATIENTS, "person-vcard"),
    NavItem("Batches", "compounding.batches", P.VIEW, "journal-medical"),
    NavItem("Recalls", "recalls.index", P.VIEW, "megaphone"),
    NavItem("Reports", "reports.index", P.REPORTS, "file-earmark-spreadsheet"),
    NavItem("Adverse events", "reports.adverse_events", P.COURSES_VIEW, "bandaid"),
    NavItem("Audit", "audit.index", P.AUDIT, "shield-check"),
    NavItem("Allergens", "inventory.allergen_groups", P.ADMIN, "exclamation-triangle"),
    NavItem("Users", "auth.users", P.ADMIN, "people"),
)

#: The user's own pages: under their name at the right of the bar (the admin's thirteen
#: entries and the search box on one line at 1366 px).
PERSONAL_MENU = (
    NavItem("Profile", "auth.profile", P.VIEW, "person-gear"),
    NavItem("My API tokens", "auth.my_tokens", P.VIEW, "key"),
)


def menu_for_current_user(menu: tuple[NavItem, ...] = MENU) -> list[NavItem]:
    if not current_user.is_authenticated:
        return []
    views = current_app.view_functions
    return [item for item in menu if item.endpoint in views and current_user.may(item.permission)]


def personal_menu_for_current_user() -> list[NavItem]:
    return menu_for_current_user(PERSONAL_MENU)
