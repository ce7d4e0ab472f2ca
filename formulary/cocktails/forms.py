"""The cocktail editor and the small forms of the cocktail pages.

The forms only carry what was typed (and the CSRF token); every rule is the service's,
so a page, the API and the CLI refuse the same things with the same messages.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (FieldList, Form, FormField, SelectChoice, SelectField, StringField,
                     SubmitField, TextAreaField)
from wtforms.validators import Length, Optional

from formulary.cocktails.models import AREAS, NOTES_MAX
from formulary.domain.units import UNITS
from formulary.i18n import _l
from formulary.inventory.forms import _CodeLabel
from formulary.i18n_fields import LocaleDecimalField

AREA_CHOICES = [SelectChoice("", _l("— choose —"))] + [SelectChoice(a, _CodeLabel(a)) for a in AREAS]
STORAGE_CHOICES = [SelectChoice("fridge", _l("Fridge (2–8 °C)")), SelectChoice("room", _l("Room temperature"))]
UNIT_CHOICES = [SelectChoice(u, _CodeLabel(u, u)) for u in UNITS]
BLANK_ROWS = 2  # empty rows offered at the end of the list (the editor without JavaScript)


class ComponentForm(Form):
    ingredient_id = SelectField(_l("Ingredient"), choices=[], validate_choice=False)
    amount = LocaleDecimalField(_l("Amount per dose"), render_kw={"inputmode": "decimal", "autocomplete": "off"})
    unit = SelectField(_l("Unit"), choices=UNIT_CHOICES, default="mg", validate_choice=False)


class CocktailForm(FlaskForm):
    name = StringField(_l("Name"), render_kw={"maxlength": 160})
    area = SelectField(_l("Area"), choices=AREA_CHOICES, validate_choice=False)
    indication = StringField(_l("Indication"), render_kw={"maxlength": 200})
    storage = SelectField(_l("Storage"), choices=STORAGE_CHOICES, default="fridge", validate_choice=False)
    notes = TextAreaField(_l("Notes (preparation, injection technique)"), validators=[Length(max=NOTES_MAX)],
                          render_kw={"rows": 2})
    components = FieldList(FormField(ComponentForm), min_entries=0)
    totals = SubmitField(_l("Show totals"))
    submit = SubmitField(_l("Save draft"))

    def offer_rows(self, ingredient_choices, blank: int = BLANK_ROWS) -> None:
        """Give every row the ingredient choices, and end the list with ``blank`` empty rows."""
        while sum(1 for e in self.components.entries if is_blank(e.form)) < blank:
            self.components.append_entry()
        for entry in self.components.entries:
            entry.form.ingredient_id.choices = ingredient_choices


def is_blank(row) -> bool:
    return not (row.ingredient_id.data or "").strip() and not (row.amount.data or "").strip()


def ingredient_choices(ingredients) -> list[SelectChoice]:
    """Active ingredients, labelled with their stock unit and strength."""
    out = [SelectChoice("", _l("— ingredient —"))]
    for ing in ingredients:
        label = f"{ing.name} ({ing.unit}"
        if ing.strength_amount is not None:
            from formulary.domain.units import format_quantity

            label += f", {format_quantity(ing.strength_amount)} {ing.strength_unit}/mL"
        out.append(SelectChoice(str(ing.id), label + ")"))
    return out


class ApproveForm(FlaskForm):
    #: Single-pharmacist mode only: the writer of a draft types the cocktail's name to
    #: approve it themselves (SPEC §12).
    confirm_self_approval = StringField(_l("Type the cocktail's name to approve your own formulation"),
                                        validators=[Optional(), Length(max=200)])
    submit = SubmitField(_l("Approve"))


class RetireForm(FlaskForm):
    reason = StringField(_l("Reason"), validators=[Optional(), Length(max=300)])
    submit = SubmitField(_l("Retire"))
