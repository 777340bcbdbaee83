from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length

from app.services.moderation import DETAILS_MAX, REPORT_REASONS


class ReportForm(FlaskForm):
    """"Report this petition", for anyone signed in."""

    reason = RadioField("Why should moderators look at this petition?", choices=[SelectChoice(value, label) for value, label in REPORT_REASONS.items()],
                        validators=[InputRequired(message="Choose a reason from the list.")])
    details = TextAreaField(
        f"Anything moderators should know (up to {DETAILS_MAX:,} characters; needed for \"Something else\")",
        validators=[Length(max=DETAILS_MAX)],
    )


class SignForm(FlaskForm):
    """The sign button's form post, with the signer's two email opt-ins."""

    notify_response = BooleanField("Email me once when it gets its official response")
    notify_close = BooleanField("Email me once when it closes")


class UnsubscribeForm(FlaskForm):
    """The button behind an unsubscribe link: a link alone (a mail scanner fetching it) changes
    nothing."""
