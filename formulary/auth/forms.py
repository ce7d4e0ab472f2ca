from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from formulary.auth.permissions import ROLE_LABELS, ROLES
from formulary.i18n import _l


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=80)],
                           render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)],
                             render_kw={"autocomplete": "current-password"})
    submit = SubmitField(_l("Log in"))


ROLE_CHOICES = [SelectChoice(r, ROLE_LABELS[r]) for r in ROLES]


class UserCreateForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=80)])
    full_name = StringField(_l("Full name"), validators=[Optional(), Length(max=120)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    password = PasswordField(_l("Initial password"), validators=[DataRequired(), Length(max=200)])
    submit = SubmitField(_l("Create user"))


class UserEditForm(FlaskForm):
    full_name = StringField(_l("Full name"), validators=[Optional(), Length(max=120)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)
    active = BooleanField(_l("Active (may log in)"))
    reason = StringField(_l("Reason for the change"), validators=[Optional(), Length(max=300)])
    submit = SubmitField(_l("Save"))


class PasswordResetForm(FlaskForm):
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=200)])
    submit = SubmitField(_l("Reset password"))


class ProfileForm(FlaskForm):
    """The user's own settings (SPEC §13, §14): the digest's address and opt-in, and the
    language of their pages."""
    email = StringField(_l("Email address"), validators=[Optional(), Length(max=254)],
                        render_kw={"autocomplete": "email", "type": "email"})
    digest_opt_in = BooleanField(_l("Send me the daily digest by email"))
    locale = SelectField(_l("Language"), choices=[], validate_choice=True)
    submit = SubmitField(_l("Save"))
