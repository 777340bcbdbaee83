"""The signed links mailed to confirm an address: one account, one address, 24 hours, once.

Each link carries the account's `email_link_version`; confirming bumps it, so a used link (and
any other link sent before it) is worthless afterwards. Signed with SECRET_KEY under its own
salt, so a session cookie or a signing token is never a valid link.
"""
from itsdangerous import BadSignature, SignatureExpired

from app.domain.errors import LinkNotValid
from app.domain.petitions import utcnow
from app.services.signing_tokens import clocked_serializer

MAX_AGE_SECONDS = 24 * 3600
EXPIRED = "This link has expired. Log in and send yourself a new one from your account page."
NOT_VALID = "This link is not valid. Check that you copied all of it, or send yourself a new one."


class EmailLinks:
    def __init__(self, secret, clock=utcnow, max_age=MAX_AGE_SECONDS):
        self._serializer = clocked_serializer(secret, "email-confirm", clock)
        self.max_age = max_age

    def token(self, user, email):
        return self._serializer.dumps({"u": user.id, "e": email, "v": user.email_link_version})

    def read(self, token):
        """(user id, address, link version) the link vouches for, or LinkNotValid."""
        try:
            data = self._serializer.loads(token, max_age=self.max_age)
        except SignatureExpired:
            raise LinkNotValid(EXPIRED) from None
        except BadSignature:
            raise LinkNotValid(NOT_VALID) from None
        if not (isinstance(data, dict) and isinstance(data.get("u"), int) and isinstance(data.get("e"), str)
                and isinstance(data.get("v"), int)):
            raise LinkNotValid(NOT_VALID)
        return data["u"], data["e"], data["v"]
