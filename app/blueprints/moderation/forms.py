from datetime import timezone

from flask_wtf import FlaskForm
from wtforms import DateField, DateTimeLocalField, RadioField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from app.domain.invalidations import KINDS, REASON_MAX, REASON_MIN

from app.services.moderation import (
    DETAILS_MAX,
    RESPONSE_MAX,
    RESPONSE_MIN,
    TAKEDOWN_REASON_MAX,
    TAKEDOWN_REASON_MIN,
)


class TakeDownForm(FlaskForm):
    reason = TextAreaField(
        f"Reason shown on the petition's page ({TAKEDOWN_REASON_MIN} to {TAKEDOWN_REASON_MAX:,} characters)",
        validators=[DataRequired(), Length(min=TAKEDOWN_REASON_MIN, max=TAKEDOWN_REASON_MAX)],
    )


class DismissForm(FlaskForm):
    note = TextAreaField(f"Note for the audit log (optional, up to {DETAILS_MAX:,} characters)",
                         validators=[Length(max=DETAILS_MAX)])


class ResponseForm(FlaskForm):
    """The responding body's answer, published by a moderator on its behalf."""

    body = TextAreaField(f"The response ({RESPONSE_MIN} to {RESPONSE_MAX:,} characters)",
                         validators=[DataRequired(), Length(min=RESPONSE_MIN, max=RESPONSE_MAX)])
    responded_on = DateField("Date of the response", validators=[DataRequired(message="Enter the date of the response.")])


class InvalidateForm(FlaskForm):
    """Which signatures to remove. "Preview" counts them; "Remove them" needs the reason."""

    kind = RadioField("Remove the signatures of", choices=[SelectChoice(value, label) for value, label in KINDS.items()],
                      validators=[InputRequired(message="Choose what to remove by.")])
    value = StringField("Which one: an email address, a domain (example.com), or an IP address or /24 or /48 block",
                        validators=[DataRequired(message="Say which account, domain or prefix."), Length(max=254)])
    signed_from = DateTimeLocalField("Signed from (UTC; optional, needed for an IP prefix)",
                                     format="%Y-%m-%dT%H:%M", validators=[Optional()])
    signed_to = DateTimeLocalField("Signed before (UTC; optional, needed for an IP prefix)",
                                   format="%Y-%m-%dT%H:%M", validators=[Optional()])
    reason = TextAreaField(f"Why, for the audit log ({REASON_MIN} to {REASON_MAX:,} characters; needed to remove)",
                           validators=[Length(max=REASON_MAX)])
    preview = SubmitField("Preview")
    confirm = SubmitField("Remove them")

    def window(self):
        """The form's window as UTC datetimes (the browser sends local wall-clock text)."""
        return tuple(None if v is None else v.replace(tzinfo=timezone.utc)
                     for v in (self.signed_from.data, self.signed_to.data))
