"""Forms of the reports page. The download forms are sent with GET (a bookmarkable
link, no change made), so they carry no CSRF token; the import is a POST with one."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, IntegerField, SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import NumberRange, Optional

from formulary.domain.courses import EVENT_SEVERITIES
from formulary.domain.stock import DEFAULT_EXPIRING_WITHIN_DAYS
from formulary.reports.stock_report import MAX_EXPIRING_DAYS
from formulary.i18n import _l
from formulary.i18n_fields import LocaleDateField
from formulary.inventory.forms import _CodeLabel


def _int_or_none(value):
    if value in (None, ""):
        return None
    return int(value)


class BatchLogForm(FlaskForm):
    class Meta:
        csrf = False

    # Two forms on one page send ``from`` and ``to``: their ids differ, so each label
    # focuses its own field.
    start = LocaleDateField(_l("From"), name="from", id="log-from", validators=[Optional()])
    end = LocaleDateField(_l("To"), name="to", id="log-to", validators=[Optional()])
    cocktail_id = SelectField(_l("Cocktail"), coerce=_int_or_none, validate_choice=True,
                              validators=[Optional()])
    patient_mrn = StringField(_l("Patient MRN"), validators=[Optional()],
                              description=_l("Only the batches made for this patient."))
    submit = SubmitField(_l("Download the batch log"))

    def set_cocktails(self, cocktails) -> None:
        self.cocktail_id.choices = [SelectChoice("", _l("Every cocktail"))] + [
            SelectChoice(c.id, c.name) for c in cocktails]


class StockReportForm(FlaskForm):
    class Meta:
        csrf = False

    expiring_within_days = IntegerField(
        _l("Expiring within (days)"), default=DEFAULT_EXPIRING_WITHIN_DAYS,
        validators=[Optional(), NumberRange(min=0, max=MAX_EXPIRING_DAYS)])
    start = LocaleDateField(_l("Movements from"), name="from", id="stock-from", validators=[Optional()])
    end = LocaleDateField(_l("Movements to"), name="to", id="stock-to", validators=[Optional()])
    submit = SubmitField(_l("Download the stock report"))


class DeliveryImportForm(FlaskForm):
    file = FileField(_l("Delivery sheet (.xlsx)"), validators=[FileRequired(_l("Choose the file to import."))],
                     render_kw={"accept": ".xlsx,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"})
    submit = SubmitField(_l("Import the delivery"))


class AdverseEventFilterForm(FlaskForm):
    """The adverse-event listing's filters (sent with GET: a bookmarkable link)."""

    class Meta:
        csrf = False

    start = LocaleDateField(_l("Onset from"), name="from", validators=[Optional()])
    end = LocaleDateField(_l("Onset to"), name="to", validators=[Optional()])
    ingredient_id = SelectField(_l("Ingredient"), coerce=_int_or_none, validate_choice=True,
                                validators=[Optional()])
    lot = StringField(_l("Lot number"), validators=[Optional()],
                      description=_l("Only events after a dose from this lot."))
    severity = SelectField(_l("Severity"), validators=[Optional()], validate_choice=True,
                           choices=[SelectChoice("", _l("Any severity"))] + [
                               SelectChoice(s, _CodeLabel(s)) for s in EVENT_SEVERITIES])
    serious = SelectField(_l("Serious"), validators=[Optional()], validate_choice=True,
                          choices=[SelectChoice("", _l("Serious or not")), SelectChoice("yes", _l("Serious")),
                                   SelectChoice("no", _l("Not serious"))])

    def set_ingredients(self, ingredients) -> None:
        self.ingredient_id.choices = [SelectChoice("", _l("Every ingredient"))] + [
            SelectChoice(i.id, i.name) for i in ingredients]
