"""Forms of the course pages. They carry what was typed; the rules (dates, counts,
refusals of an administration) are the services' (``formulary.courses``)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (BooleanField, HiddenField, SelectChoice, SelectField, StringField,
                     SubmitField, TextAreaField)
from wtforms.validators import Length, Optional

from formulary.cocktails.models import AREAS
from formulary.domain import courses as rules
from formulary.i18n import _l
from formulary.inventory.forms import _CodeLabel

DATE = {"type": "date"}
# the words of the codes in the reader's language (formulary.display.CODE_WORDS)
AREA_CHOICES = [SelectChoice(a, _CodeLabel(a)) for a in AREAS]
TECHNIQUE_CHOICES = [SelectChoice(t, _CodeLabel(t)) for t in rules.TECHNIQUES]
KIND_CHOICES = [SelectChoice(k, _CodeLabel(k)) for k in rules.EVENT_KINDS]
SEVERITY_CHOICES = [SelectChoice(s, _CodeLabel(s)) for s in rules.EVENT_SEVERITIES]


class CourseForm(FlaskForm):
    patient_id = HiddenField()
    cocktail_id = HiddenField()
    area = SelectField(_l("Area"), choices=AREA_CHOICES, validate_choice=False)
    indication = StringField(_l("Indication"), validators=[Length(max=200)])
    planned_sessions = StringField(_l("Planned sessions (1-24)"), validators=[Length(max=4)],
                                   render_kw={"inputmode": "numeric"})
    interval_days = StringField(_l("Days between sessions"), validators=[Length(max=4)],
                                render_kw={"inputmode": "numeric"})
    start_date = StringField(_l("First session on"), validators=[Length(max=10)], render_kw=DATE)
    practitioner = SelectField(_l("Practitioner in charge"), choices=[], validate_choice=False)
    submit = SubmitField(_l("Start the course"))


class MoveSessionForm(FlaskForm):
    planned_on = StringField(_l("New date"), validators=[Length(max=10)], render_kw=DATE)
    submit = SubmitField(_l("Move"))


class MarkSessionForm(FlaskForm):
    status = SelectField(_l("Mark as"), choices=[SelectChoice("missed", _l("Missed")),
                                             SelectChoice("cancelled", _l("Cancelled"))],
                         validate_choice=False)
    reason = StringField(_l("Reason"), validators=[Length(max=2000)])
    submit = SubmitField(_l("Mark"))


class StopCourseForm(FlaskForm):
    reason = StringField(_l("Reason for stopping"), validators=[Length(max=2000)])
    submit = SubmitField(_l("Stop the course"))


class ConsentForm(FlaskForm):
    consent_text_id = SelectField(_l("Consent text"), choices=[], validate_choice=False)
    consented_on = StringField(_l("Signed on"), validators=[Length(max=10)], render_kw=DATE)
    note = StringField(_l("Note"), validators=[Optional(), Length(max=2000)])
    scan = FileField(_l("Signed form (PDF, PNG or JPEG, at most 10 MB; optional)"),
                     render_kw={"accept": "application/pdf,image/png,image/jpeg"})
    submit = SubmitField(_l("Record consent"))


class ScanForm(FlaskForm):
    scan = FileField(_l("Signed form (PDF, PNG or JPEG, at most 10 MB)"),
                     render_kw={"accept": "application/pdf,image/png,image/jpeg"})
    submit = SubmitField(_l("Attach"))


class WithdrawForm(FlaskForm):
    withdrawn_on = StringField(_l("Withdrawn on"), validators=[Length(max=10)], render_kw=DATE)
    reason = StringField(_l("Reason"), validators=[Length(max=2000)])
    submit = SubmitField(_l("Withdraw consent and stop the course"))


class ConsentTextForm(FlaskForm):
    area = SelectField(_l("Area"), choices=AREA_CHOICES, validate_choice=False)
    title = StringField(_l("Title"), validators=[Length(max=200)])
    body = TextAreaField(_l("Text the patient reads and signs"), validators=[Length(max=20000)],
                         render_kw={"rows": 8})
    submit = SubmitField(_l("Save as the area's next version"))


class GiveForm(FlaskForm):
    batch_id = SelectField(_l("Batch (verified, for this patient or for no one)"), choices=[],
                           validate_choice=False)
    doses = StringField(_l("Doses given"), validators=[Length(max=5)], default="1",
                        render_kw={"inputmode": "numeric"})
    site_area = SelectField(_l("Injection area"), choices=AREA_CHOICES, validate_choice=False)
    site_description = StringField(_l("Where exactly"), validators=[Length(max=1900)],
                                   render_kw={"placeholder": _l("e.g. vertex and crown, 60 points")})
    technique = SelectField(_l("Technique"), choices=TECHNIQUE_CHOICES, validate_choice=False)
    depth_mm = StringField(_l("Depth in mm (optional)"), validators=[Optional(), Length(max=12)],
                           render_kw={"inputmode": "decimal"})
    needle = StringField(_l("Needle (optional)"), validators=[Optional(), Length(max=100)],
                         render_kw={"placeholder": _l("e.g. 32G 4 mm")})
    notes = TextAreaField(_l("Notes (optional)"), validators=[Optional(), Length(max=2000)],
                          render_kw={"rows": 2})
    override_reason = TextAreaField(_l("Override reason (only when the safety screen blocks)"),
                                    validators=[Optional(), Length(max=2000)],
                                    render_kw={"rows": 2})
    submit = SubmitField(_l("Record the administration"))

    def sites(self) -> str:
        """The sites as the service keeps them: the area, then the description."""
        text = (self.site_description.data or "").strip()
        if not rules.has_visible_text(text):
            return text  # refused by the service as it is: the area alone says nothing
        return f"{self.site_area.data}: {text}"


class EventForm(FlaskForm):
    onset = StringField(_l("Onset"), validators=[Length(max=10)], render_kw=DATE)
    kind = SelectField(_l("Kind"), choices=KIND_CHOICES, validate_choice=False)
    severity = SelectField(_l("Severity"), choices=SEVERITY_CHOICES, validate_choice=False)
    serious = BooleanField(_l("Serious (hospitalisation, lasting harm, life-threatening)"))
    outcome = StringField(_l("Outcome (optional)"), validators=[Optional(), Length(max=2000)])
    action = StringField(_l("Action taken (optional)"), validators=[Optional(), Length(max=2000)])
    submit = SubmitField(_l("Record the adverse event"))


class AllergyFromEventForm(FlaskForm):
    submit = SubmitField(_l("Record this as an allergy"))
