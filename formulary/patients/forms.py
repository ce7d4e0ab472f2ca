"""Forms of the patient pages. They only carry what was typed: the rules are in the
services (``formulary.patients.services`` and ``.allergies``)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (DateField, HiddenField, RadioField, SelectChoice, SelectField,
                     SelectMultipleField, StringField, SubmitField, TextAreaField)
from wtforms.validators import Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from formulary.domain import safety
from formulary.i18n import _l
from formulary.inventory.forms import _CodeLabel
from formulary.i18n_fields import LocaleDateField
from formulary.patients.models import NOTES_MAX

CONDITION_CHOICES = [SelectChoice(c, _CodeLabel(c, safety.CONDITION_LABELS[c]))
                     for c in safety.CONDITIONS]
SEVERITY_CHOICES = [SelectChoice("", _l("Choose…"))] + [
    SelectChoice(s, s.capitalize()) for s in safety.SEVERITIES]
STATUS_CHOICES = [SelectChoice(s, s.capitalize()) for s in safety.ALLERGY_STATUSES]
KIND_CHOICES = [SelectChoice("ingredient_id", _l("An ingredient")),
                SelectChoice("allergen_group", _l("An allergen group")),
                SelectChoice("substance", _l("Something else (free text)"))]


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form):  # the service names the unknown ones
        pass


class PatientForm(FlaskForm):
    mrn = StringField(_l("Medical record number"), validators=[Length(max=40)])
    first_name = StringField(_l("First name"), validators=[Length(max=80)])
    last_name = StringField(_l("Last name"), validators=[Length(max=80)])
    date_of_birth = LocaleDateField(_l("Date of birth"), validators=[Optional()])
    conditions = CheckboxesField(_l("Conditions"), choices=CONDITION_CHOICES)
    notes = TextAreaField(_l("Notes"), validators=[Length(max=NOTES_MAX)], render_kw={"rows": 3})
    reason = StringField(_l("Reason for the change (kept in the audit log)"),
                         validators=[Optional(), Length(max=300)])
    submit = SubmitField(_l("Save"))


class AllergyForm(FlaskForm):
    kind = RadioField(_l("Allergic to"), choices=KIND_CHOICES, default="ingredient_id")
    ingredient_id = SelectField(_l("Ingredient"), choices=[], validate_choice=False)
    allergen_group = SelectField(_l("Allergen group"), choices=[], validate_choice=False)
    substance = StringField(_l("Substance (free text)"), validators=[Length(max=200)],
                            render_kw={"placeholder": "e.g. latex"})
    severity = SelectField(_l("Severity"), choices=SEVERITY_CHOICES, validate_choice=False)
    reaction = StringField(_l("Reaction"), validators=[Length(max=300)],
                           render_kw={"placeholder": "e.g. urticaria, swelling"})
    #: "1": record the free text as typed, though it names an ingredient or group
    keep_free_text = HiddenField()
    submit = SubmitField(_l("Record allergy"))

    def set_choices(self, ingredients, groups) -> None:
        self.ingredient_id.choices = [SelectChoice("", _l("Choose…"))] + [
            SelectChoice(str(i.id), i.name) for i in ingredients]
        self.allergen_group.choices = [SelectChoice("", _l("Choose…"))] + [
            SelectChoice(g.name, g.name) for g in groups]

    def target(self) -> dict:
        """The one target the chosen kind names, as the service takes it."""
        kind = self.kind.data if self.kind.data in ("ingredient_id", "allergen_group",
                                                    "substance") else "ingredient_id"
        value = getattr(self, kind).data or None
        if kind == "ingredient_id" and value is not None:
            value = int(value) if str(value).isdecimal() else value
        return {kind: value}


class AllergyStatusForm(FlaskForm):
    """Change an allergy's status (e.g. refuted by a test), with the reason."""

    allergy_id = HiddenField()
    status = SelectField(_l("Status"), choices=STATUS_CHOICES, validate_choice=False)
    reason = StringField(_l("Reason"), validators=[Length(max=300)],
                         render_kw={"placeholder": "e.g. negative patch test"})
    submit = SubmitField(_l("Change"))


class NoKnownAllergiesForm(FlaskForm):
    submit = SubmitField(_l("No known allergies"))


class SearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Search"), validators=[Optional(), Length(max=100)])
