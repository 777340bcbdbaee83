from flask_wtf import FlaskForm
from wtforms import DateField, TextAreaField
from wtforms.validators import DataRequired, Length

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
