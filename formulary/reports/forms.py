"""Forms of the reports page. The download forms are sent with GET (a bookmarkable
link, no change made), so they carry no CSRF token; the import is a POST with one."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, IntegerField, SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import NumberRange, Optional

from formulary.domain.stock import DEFAULT_EXPIRING_WITHIN_DAYS
from formulary.reports.stock_report import MAX_EXPIRING_DAYS
from formulary.i18n import _l
from formulary.i18n_fields import LocaleDateField


def _int_or_none(value):
    if value in (None, ""):
        return None
    return int(value)


class BatchLogForm(FlaskForm):
    class Meta:
        csrf = False

    start = LocaleDateField(_l("From"), name="from", validators=[Optional()])
    end = LocaleDateField(_l("To"), name="to", validators=[Optional()])
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
    start = LocaleDateField(_l("Movements from"), name="from", validators=[Optional()])
    end = LocaleDateField(_l("Movements to"), name="to", validators=[Optional()])
    submit = SubmitField(_l("Download the stock report"))


class DeliveryImportForm(FlaskForm):
    file = FileField(_l("Delivery sheet (.xlsx)"), validators=[FileRequired(_l("Choose the file to import."))],
                     render_kw={"accept": ".xlsx,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"})
    submit = SubmitField(_l("Import the delivery"))
