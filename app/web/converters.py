from werkzeug.routing import BaseConverter, ValidationError

from app.domain.petitions import PETITION_ID_PATTERN, parse_petition_id


class PetitionIdConverter(BaseConverter):
    """`<pid:petition_id>`: ids that can exist; anything else is the router's 404."""

    regex = PETITION_ID_PATTERN

    def to_python(self, value):
        number = parse_petition_id(value)
        if number is None:
            raise ValidationError()
        return number

    def to_url(self, value):
        return str(int(value))

