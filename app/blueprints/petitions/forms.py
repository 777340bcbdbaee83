from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange

from app.domain.petitions import (
    BODY_MAX,
    DURATION_DEFAULT,
    DURATION_MAX,
    DURATION_MIN,
    TITLE_MAX,
    TITLE_MIN,
)


class PetitionForm(FlaskForm):
    title = StringField(
        f"Title ({TITLE_MIN} to {TITLE_MAX} characters)",
        validators=[DataRequired(), Length(min=TITLE_MIN, max=TITLE_MAX)],
    )
    body = TextAreaField(
        f"What do you want and why? (up to {BODY_MAX:,} characters)",
        validators=[DataRequired(), Length(max=BODY_MAX)],
    )
    duration_days = IntegerField(
        f"How many days should it run? ({DURATION_MIN} to {DURATION_MAX})",
        default=DURATION_DEFAULT,
        validators=[
            NumberRange(min=DURATION_MIN, max=DURATION_MAX, message=f"Enter a number of days from {DURATION_MIN} to {DURATION_MAX}.")
        ],
    )
