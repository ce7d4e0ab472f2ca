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


def _int_or_none(value):
    if value in (None, ""):
        return None
    return int(value)


class BatchLogForm(FlaskForm):
    class Meta:
        csrf = False

    # Two forms on one page send ``from`` and ``to``: their ids differ, so each label
    # focuses its own field.
    start = DateField("From", name="from", id="log-from", validators=[Optional()])
    end = DateField("To", name="to", id="log-to", validators=[Optional()])
    cocktail_id = SelectField("Cocktail", coerce=_int_or_none, validate_choice=True,
                              validators=[Optional()])
    patient_mrn = StringField("Patient MRN", validators=[Optional()],
                              description="Only the batches made for this patient.")
    submit = SubmitField("Download the batch log")

    def set_cocktails(self, cocktails) -> None:
        self.cocktail_id.choices = [SelectChoice("", "Every cocktail")] + [
            SelectChoice(c.id, c.name) for c in cocktails]


class StockReportForm(FlaskForm):
    class Meta:
        csrf = False

    expiring_within_days = IntegerField(
        "Expiring within (days)", default=DEFAULT_EXPIRING_WITHIN_DAYS,
        validators=[Optional(), NumberRange(min=0, max=MAX_EXPIRING_DAYS)])
    start = DateField("Movements from", name="from", id="stock-from", validators=[Optional()])
    end = DateField("Movements to", name="to", id="stock-to", validators=[Optional()])
    submit = SubmitField("Download the stock report")


class DeliveryImportForm(FlaskForm):
    file = FileField("Delivery sheet (.xlsx)", validators=[FileRequired("Choose the file to import.")],
                     render_kw={"accept": ".xlsx,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"})
    submit = SubmitField("Import the delivery")


class AdverseEventFilterForm(FlaskForm):
    """The adverse-event listing's filters (sent with GET: a bookmarkable link)."""

    class Meta:
        csrf = False

    start = DateField("Onset from", name="from", validators=[Optional()])
    end = DateField("Onset to", name="to", validators=[Optional()])
    ingredient_id = SelectField("Ingredient", coerce=_int_or_none, validate_choice=True,
                                validators=[Optional()])
    lot = StringField("Lot number", validators=[Optional()],
                      description="Only events after a dose from this lot.")
    severity = SelectField("Severity", validators=[Optional()], validate_choice=True,
                           choices=[SelectChoice("", "Any severity")] + [
                               SelectChoice(s, s) for s in EVENT_SEVERITIES])
    serious = SelectField("Serious", validators=[Optional()], validate_choice=True,
                          choices=[SelectChoice("", "Serious or not"), SelectChoice("yes", "Serious"),
                                   SelectChoice("no", "Not serious")])

    def set_ingredients(self, ingredients) -> None:
        self.ingredient_id.choices = [SelectChoice("", "Every ingredient")] + [
            SelectChoice(i.id, i.name) for i in ingredients]
