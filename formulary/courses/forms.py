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

DATE = {"type": "date"}
AREA_CHOICES = [SelectChoice(a, a.capitalize()) for a in AREAS]
TECHNIQUE_CHOICES = [SelectChoice(t, t.replace("_", " ").capitalize()) for t in rules.TECHNIQUES]
KIND_CHOICES = [SelectChoice(k, k.replace("_", " ").capitalize()) for k in rules.EVENT_KINDS]
SEVERITY_CHOICES = [SelectChoice(s, s.capitalize()) for s in rules.EVENT_SEVERITIES]


class CourseForm(FlaskForm):
    patient_id = HiddenField()
    cocktail_id = HiddenField()
    area = SelectField("Area", choices=AREA_CHOICES, validate_choice=False)
    indication = StringField("Indication", validators=[Length(max=200)])
    planned_sessions = StringField("Planned sessions (1-24)", validators=[Length(max=4)],
                                   render_kw={"inputmode": "numeric"})
    interval_days = StringField("Days between sessions", validators=[Length(max=4)],
                                render_kw={"inputmode": "numeric"})
    start_date = StringField("First session on", validators=[Length(max=10)], render_kw=DATE)
    practitioner = SelectField("Practitioner in charge", choices=[], validate_choice=False)
    submit = SubmitField("Start the course")


class MoveSessionForm(FlaskForm):
    planned_on = StringField("New date", validators=[Length(max=10)], render_kw=DATE)
    submit = SubmitField("Move")


class MarkSessionForm(FlaskForm):
    status = SelectField("Mark as", choices=[SelectChoice("missed", "Missed"),
                                             SelectChoice("cancelled", "Cancelled")],
                         validate_choice=False)
    reason = StringField("Reason", validators=[Length(max=2000)])
    submit = SubmitField("Mark")


class StopCourseForm(FlaskForm):
    reason = StringField("Reason for stopping", validators=[Length(max=2000)])
    submit = SubmitField("Stop the course")


class ConsentForm(FlaskForm):
    consent_text_id = SelectField("Consent text", choices=[], validate_choice=False)
    consented_on = StringField("Signed on", validators=[Length(max=10)], render_kw=DATE)
    note = StringField("Note", validators=[Optional(), Length(max=2000)])
    scan = FileField("Signed form (PDF, PNG or JPEG, at most 10 MB; optional)",
                     render_kw={"accept": "application/pdf,image/png,image/jpeg"})
    submit = SubmitField("Record consent")


class ScanForm(FlaskForm):
    scan = FileField("Signed form (PDF, PNG or JPEG, at most 10 MB)",
                     render_kw={"accept": "application/pdf,image/png,image/jpeg"})
    submit = SubmitField("Attach")


class WithdrawForm(FlaskForm):
    withdrawn_on = StringField("Withdrawn on", validators=[Length(max=10)], render_kw=DATE)
    reason = StringField("Reason", validators=[Length(max=2000)])
    submit = SubmitField("Withdraw consent and stop the course")


class ConsentTextForm(FlaskForm):
    area = SelectField("Area", choices=AREA_CHOICES, validate_choice=False)
    title = StringField("Title", validators=[Length(max=200)])
    body = TextAreaField("Text the patient reads and signs", validators=[Length(max=20000)],
                         render_kw={"rows": 8})
    submit = SubmitField("Save as the area's next version")


class GiveForm(FlaskForm):
    batch_id = SelectField("Batch (verified, for this patient or for no one)", choices=[],
                           validate_choice=False)
    doses = StringField("Doses given", validators=[Length(max=5)], default="1",
                        render_kw={"inputmode": "numeric"})
    site_area = SelectField("Injection area", choices=AREA_CHOICES, validate_choice=False)
    site_description = StringField("Where exactly", validators=[Length(max=1900)],
                                   render_kw={"placeholder": "e.g. vertex and crown, 60 points"})
    technique = SelectField("Technique", choices=TECHNIQUE_CHOICES, validate_choice=False)
    depth_mm = StringField("Depth in mm (optional)", validators=[Optional(), Length(max=12)],
                           render_kw={"inputmode": "decimal"})
    needle = StringField("Needle (optional)", validators=[Optional(), Length(max=100)],
                         render_kw={"placeholder": "e.g. 32G 4 mm"})
    notes = TextAreaField("Notes (optional)", validators=[Optional(), Length(max=2000)],
                          render_kw={"rows": 2})
    override_reason = TextAreaField("Override reason (only when the safety screen blocks)",
                                    validators=[Optional(), Length(max=2000)],
                                    render_kw={"rows": 2})
    submit = SubmitField("Record the administration")

    def sites(self) -> str:
        """The sites as the service keeps them: the area, then the description."""
        text = (self.site_description.data or "").strip()
        return f"{self.site_area.data}: {text}" if text else ""


class EventForm(FlaskForm):
    onset = StringField("Onset", validators=[Length(max=10)], render_kw=DATE)
    kind = SelectField("Kind", choices=KIND_CHOICES, validate_choice=False)
    severity = SelectField("Severity", choices=SEVERITY_CHOICES, validate_choice=False)
    serious = BooleanField("Serious (hospitalisation, lasting harm, life-threatening)")
    outcome = StringField("Outcome (optional)", validators=[Optional(), Length(max=2000)])
    action = StringField("Action taken (optional)", validators=[Optional(), Length(max=2000)])
    submit = SubmitField("Record the adverse event")


class AllergyFromEventForm(FlaskForm):
    submit = SubmitField("Record this as an allergy")
