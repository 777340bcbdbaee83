from werkzeug.routing import BaseConverter, ValidationError

MAX_ID = 2**31 - 1  # SQL INTEGER: larger ids cannot exist, so they are a 404, not a database error


class PetitionIdConverter(BaseConverter):
    regex = r"[1-9][0-9]{0,9}"

    def to_python(self, value):
        number = int(value)
        if number > MAX_ID:
            raise ValidationError()
        return number

    def to_url(self, value):
        return str(int(value))
