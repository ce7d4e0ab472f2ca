"""The worklist's form: a patient's status and a note. It only carries text; the rules are
the service's (``recalls.services.set_patient_status``), as for the API."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, SubmitField, TextAreaField
from wtforms.validators import Length, Optional

from formulary.domain.recalls import PATIENT_STATUSES
from formulary.i18n import _l
from formulary.inventory.forms import _CodeLabel


class PatientStatusForm(FlaskForm):
    status = SelectField(_l("Status"), choices=[SelectChoice(s, _CodeLabel(s))
                                           for s in PATIENT_STATUSES],
                         validate_choice=False)
    note = TextAreaField(_l("Note"), validators=[Optional(), Length(max=1000)], render_kw={"rows": 2})
    submit = SubmitField(_l("Save"))
