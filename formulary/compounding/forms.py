"""Forms of the batch pages. The rules (doses, override, stock) are checked by the
services; the forms only carry the values."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (DateField, HiddenField, SelectChoice, SelectField, StringField, SubmitField,
                     TextAreaField)
from markupsafe import Markup, escape
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import Select, html_params
from wtforms.fields.choices import Choice

from formulary.compounding.models import BATCH_STATUSES, REASON_MAX
from formulary.domain.batch_state import STATES
from formulary.i18n import _l
from formulary.inventory.forms import _CodeLabel
from formulary.i18n_fields import LocaleDateField


def _int_or_none(value):
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


class LongSelect(Select):
    """A select of many options (every cocktail): each plain option written directly, the
    same HTML as wtforms' (``<option selected value="3">Name</option>``) without going
    through ``html_params`` for every one of them (a quarter of the batch list's time)."""

    def __call__(self, field, **kwargs):
        if not isinstance(field, LongSelectField):
            return super().__call__(field, **kwargs)
        # ``Select.__call__``'s opening tag, then the options written at once
        kwargs.setdefault("id", field.id)
        if self.multiple:
            kwargs["multiple"] = True
        flags = getattr(field, "flags", {})
        for k in dir(flags):
            if k in self.validation_attrs and k not in kwargs:
                kwargs[k] = getattr(flags, k)
        return Markup(f"<select {html_params(name=field.name, **kwargs)}>"
                      f"{field.render_options()}</select>")

    @classmethod
    def render_option(cls, choice, **kwargs):
        if kwargs or choice.render_kw:
            return super().render_option(choice, **kwargs)
        value = str(choice.value) if isinstance(choice.value, bool) else choice.value
        selected = "selected " if choice.selected else ""
        return Markup(f'<option {selected}value="{escape(value)}">'
                      f'{escape(choice.label or choice.value)}</option>')


class LongSelectField(SelectField):
    """A ``SelectField`` of many plain options: ``choices`` are ``(value, label)`` pairs
    (no groups, no per-option attributes). wtforms turns every choice into an object
    on each of its three passes (validate, has groups?, render): for the batch list's 300
    cocktails, more than the page's 50 rows. Here validation and rendering read the pairs
    as they are; the HTML is the same as ``Select``'s (``LongSelect``), and the choice is
    valid exactly when wtforms would find it selected (its value coerced equals the
    data)."""

    widget = LongSelect()

    def has_groups(self):
        return False

    def iter_choices(self):  # anything else that asks: the choices as wtforms gives them
        data, coerce = self.data, self.coerce
        return [Choice(value=value, label=label, selected=coerce(value) == data, render_kw={})
                for value, label in self.choices]

    def pre_validate(self, form):
        if self.process_errors or not self.validate_choice or self.choices is None:
            return super().pre_validate(form)
        data, coerce = self.data, self.coerce
        if not any(coerce(value) == data for value, _label in self.choices):
            super().pre_validate(form)  # wtforms' own refusal, in its words

    def render_options(self) -> str:
        """Every ``<option>``, as ``LongSelect.render_option`` writes each."""
        data, coerce = self.data, self.coerce
        return "".join(
            f'<option {"selected " if coerce(value) == data else ""}value="{escape(value)}">'
            f'{escape(label or value)}</option>' for value, label in self.choices)


class PreviewForm(FlaskForm):
    """Step one (GET): what to prepare. Read-only, so no CSRF token."""

    class Meta:
        csrf = False

    cocktail_id = SelectField(_l("Cocktail (active version)"), coerce=_int_or_none,
                              validators=[DataRequired(_l("Choose a cocktail."))], widget=LongSelect())
    doses = StringField(_l("Doses"), validators=[DataRequired(_l("How many doses?")), Length(max=6)],
                        render_kw={"inputmode": "numeric"})
    patient_mrn = StringField(_l("Patient MRN (optional)"), validators=[Optional(), Length(max=40)],
                              render_kw={"autocomplete": "off"})
    preview = SubmitField(_l("Preview"))

    def set_cocktails(self, cocktails) -> None:
        self.cocktail_id.choices = [SelectChoice("", _l("Choose…"))] + [
            SelectChoice(c.id, f"{c.name} (v{c.active_version.number})") for c in cocktails]


class ConfirmForm(FlaskForm):
    """Step two (POST): the previewed values, a one-time key against double submits, and
    the override reason when the safety screen blocks."""

    cocktail_id = HiddenField()
    doses = HiddenField()
    patient_mrn = HiddenField()
    idempotency_key = HiddenField()
    override_reason = TextAreaField(_l("Override reason"), validators=[Optional(), Length(max=REASON_MAX)],
                                    render_kw={"rows": 2})
    confirm = SubmitField(_l("Prepare batch"))


class VerifyForm(FlaskForm):
    verify = SubmitField(_l("Verify batch"))


class DiscardForm(FlaskForm):
    reason = StringField(_l("Reason for discarding"), validators=[DataRequired(_l("Give a reason.")),
                                                              Length(max=REASON_MAX)])
    discard = SubmitField(_l("Discard batch"))


class FilterForm(FlaskForm):
    class Meta:
        csrf = False

    date_from = LocaleDateField(_l("From"), validators=[Optional()])
    date_to = LocaleDateField(_l("To"), validators=[Optional()])
    cocktail_id = LongSelectField(_l("Cocktail"), coerce=_int_or_none, validators=[Optional()])
    patient_mrn = StringField(_l("Patient (MRN or name)"), validators=[Optional(), Length(max=100)])
    status = SelectField(_l("Status"), validators=[Optional()], choices=[SelectChoice("", _l("Any"))] + [
        SelectChoice(s, _CodeLabel(s)) for s in BATCH_STATUSES])
    state = SelectField(_l("State now"), validators=[Optional()], choices=[SelectChoice("", _l("Any"))] + [
        SelectChoice(s, _CodeLabel(s)) for s in STATES])

    def set_cocktails(self, cocktails) -> None:
        self.cocktail_id.choices = [("", _l("Any"))] + [(c.id, c.name) for c in cocktails]
