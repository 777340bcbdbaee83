"""Short-lived signed tokens the web app mints and the Functions app checks.

A sign token binds one user to one petition; a lifecycle token lets the web app start one
petition's orchestration. Both are HMAC-signed with SIGNING_TOKEN_SECRET, which the two apps share,
and expire after at most ten minutes.
"""
from typing import NamedTuple

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from app.domain.errors import EmailNotConfirmed, NotAuthenticated
from app.domain.petitions import utcnow

MAX_AGE_SECONDS = 600
CONFIRM_TO_SIGN = "Confirm your email address to sign: follow the link we emailed you, or send a new one from your account page."
SIGN, LIFECYCLE = "petition-sign", "petition-lifecycle"


class TokenSigner(NamedTuple):
    user_id: int
    email_domain: str  # "" in a token minted without it


def clocked_serializer(secret, salt, clock=utcnow):
    """itsdangerous's timed serializer, dated by `clock` so tests can move time."""

    class ClockSigner(TimestampSigner):
        def get_timestamp(self):
            return int(clock().timestamp())

    return URLSafeTimedSerializer(secret, salt=salt, signer=ClockSigner)


class SigningTokens:
    def __init__(self, secret, max_age=MAX_AGE_SECONDS, clock=utcnow):
        if not secret:
            raise ValueError("SIGNING_TOKEN_SECRET is not set")
        self.max_age = min(max_age, MAX_AGE_SECONDS)
        self._serializers = {purpose: clocked_serializer(secret, purpose, clock) for purpose in (SIGN, LIFECYCLE)}

    def sign_token(self, user_id, petition_id, *, confirmed, email_domain=""):
        """`confirmed`: the user's email address is confirmed, as their card says. Signing checks
        it from the token, and records the address's domain from it, so the signing endpoint and
        the Functions app need no users DB."""
        return self._serializers[SIGN].dumps(
            {"u": int(user_id), "p": int(petition_id), "c": bool(confirmed), "d": email_domain}
        )

    def lifecycle_token(self, petition_id):
        return self._serializers[LIFECYCLE].dumps({"p": int(petition_id)})

    def signer_for(self, token, petition_id):
        """Who a sign token vouches for on this petition (a TokenSigner), or NotAuthenticated."""
        data = self._load(SIGN, token)
        if data.get("p") != petition_id or not isinstance(data.get("u"), int):
            raise NotAuthenticated("This signing token is for another petition. Reload the page.")
        if data.get("c") is not True:
            raise EmailNotConfirmed(CONFIRM_TO_SIGN)
        domain = data.get("d")
        return TokenSigner(data["u"], domain if isinstance(domain, str) else "")

    def check_lifecycle(self, token, petition_id):
        if self._load(LIFECYCLE, token).get("p") != petition_id:
            raise NotAuthenticated("This token is for another petition.")

    def _load(self, purpose, token):
        if not token:
            raise NotAuthenticated("A signing token is required. Reload the page and try again.")
        try:
            data = self._serializers[purpose].loads(token, max_age=self.max_age)
        except SignatureExpired:
            raise NotAuthenticated("Your signing token has expired. Reload the page and try again.") from None
        except BadSignature:
            raise NotAuthenticated("The signing token is not valid. Reload the page and try again.") from None
        if not isinstance(data, dict):
            raise NotAuthenticated("The signing token is not valid. Reload the page and try again.")
        return data
