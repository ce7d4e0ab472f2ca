"""Forms of the inventory pages. They only carry text: every rule is checked by the
services (``ingredients``, ``lots``, ``allergens``), which the forms' data is handed to in
the API's shape, so a page and the API are refused for the same reasons."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (BooleanField, HiddenField, SelectChoice, SelectField, SelectMultipleField,
                     StringField, SubmitField, TextAreaField)
from wtforms.validators import Length, Optional

from formulary.domain.safety import CONDITION_LABELS, CONDITIONS
from formulary.domain.units import ACTIVE_UNITS, UNITS
from formulary.inventory.models import (ADJUSTMENT_REASONS, CATEGORIES, GROUP_DESCRIPTION_MAX,
                                        INGREDIENT_NOTES_MAX, LOT_STATUSES, STATUS_REASON_MAX, STORAGES)
from formulary.i18n import _l
from formulary.i18n_fields import LocaleDateTextField, LocaleDecimalField


def _choices(values, labels=None, blank: str | None = None):
    out = [SelectChoice("", blank)] if blank is not None else []
    return out + [SelectChoice(v, _CodeLabel(v, (labels or {}).get(v))) for v in values]


class _CodeLabel:
    """A choice's label read when the page is written, so in the reader's language."""

    def __init__(self, code, fallback=None):
        self.code, self.fallback = code, fallback

    def __str__(self):
        from formulary.display import code_word

        return code_word(self.code, self.fallback)

    def __html__(self):
        from markupsafe import escape

        return str(escape(str(self)))


class IngredientForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Length(max=160)],
                       description=_l("As on the shelf: lidocaine 2% multi-dose with methylparaben"))
    category = SelectField(_l("Category"), choices=_choices(CATEGORIES, blank="—"), validate_choice=False)
    unit = SelectField(_l("Stock unit"), choices=_choices(UNITS, blank="—"), validate_choice=False)
    strength = LocaleDecimalField(_l("Strength (amount per 1 mL)"), validators=[Optional()])
    strength_unit = SelectField(_l("Strength unit"), choices=_choices(ACTIVE_UNITS, blank=_l("— per mL")),
                                validate_choice=False)
    allergen_groups = SelectMultipleField(_l("Allergen groups (substance and excipients)"),
                                          choices=[], validate_choice=False)
    contraindications = SelectMultipleField(
        _l("Contraindicated in"), choices=_choices(CONDITIONS, dict(CONDITION_LABELS)),
        validate_choice=False)
    reorder_level = LocaleDecimalField(_l("Reorder level (stock unit)"), validators=[Optional()])
    max_dose_per_session = LocaleDecimalField(_l("Maximum dose per session"), validators=[Optional()])
    max_dose_unit = SelectField(_l("Maximum dose unit"), choices=_choices(UNITS, blank="—"),
                                validate_choice=False)
    gtins = TextAreaField(_l("GTINs (one per line)"), render_kw={"rows": 2})
    storage = SelectField(_l("Storage"), choices=_choices(STORAGES), validate_choice=False)
    multi_dose = BooleanField(_l("Multi-dose vial"))
    in_use_days = StringField(_l("In-use days once opened (empty: 28)"), validators=[Optional()])
    active = BooleanField(_l("Active"), default=True)
    notes = TextAreaField(_l("Notes"), validators=[Length(max=INGREDIENT_NOTES_MAX)], render_kw={"rows": 2})
    submit = SubmitField(_l("Save"))

    def to_data(self) -> dict:
        """The form as the API's ingredient object (SPEC §9)."""
        def amount_unit(amount, unit):
            amount = (amount or "").strip()
            return {"amount": amount, "unit": unit or None} if amount or unit else None

        days = (self.in_use_days.data or "").strip()
        return {
            "name": self.name.data or "", "category": self.category.data or None,
            "unit": self.unit.data or None,
            "strength": amount_unit(self.strength.data, self.strength_unit.data),
            "allergen_groups": list(self.allergen_groups.data or []),
            "contraindications": list(self.contraindications.data or []),
            "reorder_level": (self.reorder_level.data or "").strip() or None,
            "max_dose_per_session": amount_unit(self.max_dose_per_session.data,
                                                self.max_dose_unit.data),
            "gtins": [g for g in (self.gtins.data or "").replace(",", "\n").splitlines() if g.strip()],
            "storage": self.storage.data, "multi_dose": bool(self.multi_dose.data),
            "in_use_days": int(days) if days.isascii() and days.isdigit() and len(days) < 6 else (days or None),
            "active": bool(self.active.data), "notes": self.notes.data or "",
        }

    def fill(self, ing) -> None:
        from formulary.domain.units import format_quantity as fq

        self.name.data, self.category.data, self.unit.data = ing.name, ing.category, ing.unit
        self.strength.data = fq(ing.strength_amount) if ing.strength_amount is not None else ""
        self.strength_unit.data = ing.strength_unit or ""
        self.allergen_groups.data = [g.name for g in ing.allergen_groups]
        self.contraindications.data = [c.condition for c in ing.contraindications]
        self.reorder_level.data = fq(ing.reorder_level) if ing.reorder_level is not None else ""
        self.max_dose_per_session.data = fq(ing.max_dose_amount) if ing.max_dose_amount is not None else ""
        self.max_dose_unit.data = ing.max_dose_unit or ""
        self.gtins.data = "\n".join(g.gtin for g in ing.gtins)
        self.storage.data, self.multi_dose.data = ing.storage, ing.multi_dose
        self.in_use_days.data = str(ing.in_use_days) if ing.in_use_days else ""
        self.active.data, self.notes.data = ing.active, ing.notes


class ScanForm(FlaskForm):
    """The scan field: a GET form, so a USB scanner's Enter looks the barcode up."""

    class Meta:
        csrf = False  # a read-only look-up

    barcode = StringField(_l("Scan a vial (GS1 barcode)"), validators=[Optional(), Length(max=500)],
                          render_kw={"autofocus": True, "autocomplete": "off",
                                     "placeholder": "(01)…(17)…(10)…", "data-scan-field": "1"})


class ReceiveForm(FlaskForm):
    barcode = HiddenField()
    ingredient_id = SelectField(_l("Ingredient"), choices=[], validate_choice=False)
    lot_number = StringField(_l("Lot number"), validators=[Length(max=40)])
    expiry_date = LocaleDateTextField(_l("Expiry date"))
    quantity = LocaleDecimalField(_l("Quantity received (stock unit)"))
    unit_cost = LocaleDecimalField(_l("Unit cost (per stock unit)"), validators=[Optional()])
    supplier = StringField(_l("Supplier"), validators=[Optional(), Length(max=120)])
    submit = SubmitField(_l("Receive"))


class AdjustForm(FlaskForm):
    quantity_delta = LocaleDecimalField(_l("Change (signed: -2 takes two away)"))
    reason = SelectField(_l("Reason"), choices=_choices(ADJUSTMENT_REASONS, blank="—"),
                         validate_choice=False)
    note = StringField(_l("Note (required for other)"), validators=[Optional(), Length(max=1000)])
    submit = SubmitField(_l("Adjust"))


class StatusForm(FlaskForm):
    status = SelectField(_l("New status"), choices=_choices(LOT_STATUSES), validate_choice=False)
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=STATUS_REASON_MAX)])
    submit = SubmitField(_l("Change status"))


class AllergenGroupForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Length(max=120)])
    description = TextAreaField(_l("Description"), validators=[Length(max=GROUP_DESCRIPTION_MAX)],
                                render_kw={"rows": 2})
    cross_reacts_with = SelectMultipleField(_l("Cross-reacts with"), choices=[], validate_choice=False)
    submit = SubmitField(_l("Save"))

    def to_data(self) -> dict:
        return {"name": self.name.data or "", "description": self.description.data or "",
                "cross_reacts_with": list(self.cross_reacts_with.data or [])}
