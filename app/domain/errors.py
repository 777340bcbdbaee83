class DomainError(Exception):
    """A rule refused the request. `status` is the HTTP status the adapters answer with."""

    status = 400
    code = "bad_request"

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError):
    status = 400
    code = "invalid_input"

    def __init__(self, message, fields=None):
        super().__init__(message)
        self.fields = fields or {}  # {form field: its message}, shown beside each field

    @classmethod
    def from_fields(cls, fields):
        """One error for several fields' messages."""
        return cls("; ".join(fields.values()), fields)

    @classmethod
    def for_field(cls, field, message):
        return cls(message, {field: message})


class NotAuthenticated(DomainError):
    status = 401
    code = "not_authenticated"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class InvalidTransition(DomainError):
    """The petition's state does not allow this change (edit after launch, launch twice...)."""

    status = 409
    code = "invalid_state"


class NotOpenForSigning(DomainError):
    status = 409
    code = "not_open"


class DeadlinePassed(NotOpenForSigning):
    code = "deadline_passed"


class EmailTaken(DomainError):
    status = 400
    code = "email_taken"


class StoreUnavailable(DomainError):
    """Redis or SQL did not answer. Nothing was recorded, so retrying is safe."""

    status = 503
    code = "store_unavailable"


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"


class EmailNotConfirmed(DomainError):
    """Signing and launching wait until the account's email address is confirmed."""

    status = 403
    code = "email_not_confirmed"


class LinkNotValid(DomainError):
    """An emailed link that is expired, used already, or not one of ours."""

    status = 400
    code = "link_not_valid"


class AlreadyReported(DomainError):
    """One open report per person per petition."""

    status = 409
    code = "already_reported"


class Forbidden(DomainError):
    """Signed in, but not allowed here (moderator pages for someone who is not one)."""

    status = 403
    code = "forbidden"


class SignatureRemoved(DomainError):
    """The moderators removed this person's signature from this petition; it stays removed."""

    status = 403
    code = "signature_removed"
