"""The words of the audit log's readable changes in the reader's language (SPEC §13):
the names of the recorded fields, yes/no, the words of codes, numbers in the locale's form.
The domain (:mod:`formulary.domain.audit_changes`) reads the keys and builds the changes;
these are the words it is handed, for the audit page and the audit export alike."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import get_decimal_symbol

from formulary.display import code_word
from formulary.domain.audit_changes import Words, english_label, plain_number
from formulary.i18n import _, _babel_locale, _l, _lang, format_date_l, format_datetime_l

#: The name of each field the audit log records, by its key (a key missing here reads as
#: its English words: the catalog test lists the keys of a whole demo's log).
FIELD_LABELS = {
    "action": _l("Action"),
    "active": _l("Active"),
    "administration_id": _l("Administration"),
    "administrations": _l("Administrations"),
    "allergen_group_id": _l("Allergen group"),
    "allergen_groups": _l("Allergen groups"),
    "allergy_ids": _l("Allergies"),
    "allergy_status": _l("Allergy status"),
    "amount": _l("Amount"),
    "area": _l("Area"),
    "batch_id": _l("Batch"),
    "batch_ids": _l("Batches"),
    "batch_number": _l("Batch number"),
    "batches": _l("Batches"),
    "beyond_use_at": _l("Beyond use"),
    "body": _l("Text"),
    "category": _l("Category"),
    "cocktail_id": _l("Cocktail"),
    "cocktail_status": _l("Cocktail status"),
    "cocktail_version_id": _l("Cocktail version"),
    "components": _l("Components"),
    "conditions": _l("Conditions"),
    "consent_id": _l("Consent"),
    "consent_text_id": _l("Consent text"),
    "consented_on": _l("Consented on"),
    "content_type": _l("Content type"),
    "contraindications": _l("Contraindications"),
    "course_status": _l("Course status"),
    "created_by_id": _l("Created by"),
    "cross_reacts_with": _l("Cross-reacts with"),
    "date_of_birth": _l("Date of birth"),
    "description": _l("Description"),
    "digest_opt_in": _l("Daily digest"),
    "discarded_by_id": _l("Discarded by"),
    "doses": _l("Doses"),
    "doses_left": _l("Doses left"),
    "email": _l("Email"),
    "expiry_date": _l("Expiry date"),
    "first_name": _l("First name"),
    "full_name": _l("Full name"),
    "given_at": _l("Given at"),
    "gtins": _l("GTINs"),
    "id": _l("Id"),
    "in_use_days": _l("In-use period (days)"),
    "indication": _l("Indication"),
    "ingredient_id": _l("Ingredient"),
    "ingredient_ids": _l("Ingredients"),
    "interval_days": _l("Interval (days)"),
    "kind": _l("Kind"),
    "last_name": _l("Last name"),
    "lines": _l("Lines"),
    "lot_id": _l("Lot"),
    "lot_ids": _l("Lots"),
    "lot_number": _l("Lot number"),
    "max_dose_per_session": _l("Maximum dose per session"),
    "movement_id": _l("Movement"),
    "mrn": _l("MRN"),
    "multi_dose": _l("Multi-dose vial"),
    "name": _l("Name"),
    "note": _l("Note"),
    "notes": _l("Notes"),
    "number": _l("Number"),
    "onset": _l("Onset"),
    "outcome": _l("Outcome"),
    "override_reason": _l("Override reason"),
    "patient_allergy_status": _l("Patient allergy status"),
    "patient_id": _l("Patient"),
    "patients": _l("Patients"),
    "planned_on": _l("Planned on"),
    "planned_sessions": _l("Planned sessions"),
    "practitioner_id": _l("Practitioner"),
    "prepared_by_id": _l("Prepared by"),
    "quantity": _l("Quantity"),
    "quantity_on_hand": _l("Quantity on hand"),
    "quantity_received": _l("Quantity received"),
    "reaction": _l("Reaction"),
    "reason": _l("Reason"),
    "reorder_level": _l("Reorder level"),
    "role": _l("Role"),
    "rows": _l("Rows"),
    "safety_verdict": _l("Safety verdict"),
    "serious": _l("Serious"),
    "session_id": _l("Session"),
    "session_status": _l("Session status"),
    "sessions": _l("Sessions"),
    "severity": _l("Severity"),
    "sites": _l("Sites"),
    "start_date": _l("Start date"),
    "status": _l("Status"),
    "status_reason": _l("Status reason"),
    "stock_quantity": _l("Stock quantity"),
    "stock_unit": _l("Stock unit"),
    "storage": _l("Storage"),
    "strength": _l("Strength"),
    "substance": _l("Substance"),
    "supplier": _l("Supplier"),
    "target": _l("Allergic to"),
    "technique": _l("Technique"),
    "title": _l("Title"),
    "unit": _l("Unit"),
    "unit_cost": _l("Unit cost"),
    "user_id": _l("User"),
    "username": _l("Username"),
    "verified_by_id": _l("Verified by"),
    "version": _l("Version"),
    "version_id": _l("Cocktail version"),
    "withdrawn_on": _l("Withdrawn on"),
}

#: Keys whose values are the clinic's codes (a status, a category): shown as the code's
#: word in the reader's language; any other text is shown as it was recorded.
CODE_KEYS = frozenset({
    "status", "category", "storage", "severity", "kind", "technique", "area", "reason",
    "cocktail_status", "course_status", "session_status", "allergy_status",
    "patient_allergy_status", "safety_verdict",
})

#: Between a field's name and its value: French puts a (no-break) space before the colon.
_COLONS = {"fr": "\u00a0: "}


def field_label(key: str | None) -> str:
    if key is None:
        return _("Value")
    word = FIELD_LABELS.get(key)
    return str(word) if word is not None else english_label(key)


def _code(key: str, value: str) -> str:
    return code_word(value, fallback=value) if key in CODE_KEYS else value


def reader_words() -> Words:
    """The words of the request's (or the forced) locale. English keeps the forms the
    clinic has always read in its log (ISO dates, a decimal point); another language has
    its own (``31/01/2027``, ``2,5``) and puts its colon its way."""
    lang = _lang()
    if lang == "en":
        return Words(label=field_label, yes=_("yes"), no=_("no"), none=_("none"),
                     removed=_("(removed)"), code=_code)
    decimal = get_decimal_symbol(_babel_locale())

    def number(value: Decimal) -> str:
        return plain_number(value).replace(".", decimal)

    return Words(label=field_label, yes=_("yes"), no=_("no"), none=_("none"),
                 removed=_("(removed)"), colon=_COLONS.get(lang, ": "), number=number,
                 code=_code, date=format_date_l, moment=format_datetime_l)
