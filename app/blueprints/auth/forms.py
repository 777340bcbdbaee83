from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, Length

from app.services.accounts import DISPLAY_NAME_MAX, PASSWORD_MAX, PASSWORD_MIN


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class RegisterForm(FlaskForm):
    # Stripped before the Email validator sees it: " Ann@Example.com " is a valid address to
    # normalise, not an error.
    email = EmailField(
        "Email",
        filters=[_strip],
        validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)],
    )
    display_name = StringField(
        "Your name (shown on petitions you create)", validators=[DataRequired(), Length(max=DISPLAY_NAME_MAX)]
    )
    password = PasswordField(
        f"Password ({PASSWORD_MIN} to {PASSWORD_MAX} characters)",
        validators=[DataRequired(), Length(min=PASSWORD_MIN, max=PASSWORD_MAX)],
    )


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=PASSWORD_MAX)])


class EmailChangeForm(FlaskForm):
    email = EmailField(
        "New email address",
        filters=[_strip],
        validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)],
    )
    password = PasswordField("Your current password", validators=[DataRequired(), Length(max=PASSWORD_MAX)])
