from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectChoice, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from formulary.auth.permissions import ROLE_LABELS, ROLES


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=80)],
                           render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)],
                             render_kw={"autocomplete": "current-password"})
    submit = SubmitField("Log in")


ROLE_CHOICES = [SelectChoice(r, ROLE_LABELS[r]) for r in ROLES]


class UserCreateForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=80)])
    full_name = StringField("Full name", validators=[Optional(), Length(max=120)])
    role = SelectField("Role", choices=ROLE_CHOICES)
    password = PasswordField("Initial password", validators=[DataRequired(), Length(max=200)])
    submit = SubmitField("Create user")


class UserEditForm(FlaskForm):
    full_name = StringField("Full name", validators=[Optional(), Length(max=120)])
    role = SelectField("Role", choices=ROLE_CHOICES)
    active = BooleanField("Active (may log in)")
    reason = StringField("Reason for the change", validators=[Optional(), Length(max=300)])
    submit = SubmitField("Save")


class PasswordResetForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), Length(max=200)])
    submit = SubmitField("Reset password")


class ProfileForm(FlaskForm):
    email = StringField("Email address", validators=[Optional(), Length(max=254)],
                        render_kw={"autocomplete": "email", "type": "email"})
    digest_opt_in = BooleanField("Send me the daily digest by email")
    submit = SubmitField("Save")
