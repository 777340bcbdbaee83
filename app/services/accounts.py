"""Registration, sign-in and the server-side session token."""
import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError

from app.domain.errors import EmailTaken, InvalidInput
from app.repositories.models import User

PASSWORD_MIN, PASSWORD_MAX = 8, 128
DISPLAY_NAME_MAX = 60

# argon2id, time_cost 2, 19 MiB, parallelism 1 (OWASP's minimum recommendation).
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def normalise_email(email):
    return (email or "").strip().lower()


@functools.cache
def _dummy_hash(hasher):
    """Verified against for unknown emails so both failures cost the same time. Made once per
    hasher: the service is built per request, and hashing there doubled every login's cost."""
    return hasher.hash(secrets.token_hex(16))


def new_session_token():
    return secrets.token_hex(16)


class AccountService:
    def __init__(self, session, users, hasher=HASHER):
        self.session = session
        self.users = users
        self.hasher = hasher

    def register(self, email, display_name, password):
        email = normalise_email(email)
        display_name = " ".join((display_name or "").split())
        errors = {}
        if not email or "@" not in email or len(email) > 254:
            errors["email"] = "Enter a valid email address."
        if not 1 <= len(display_name) <= DISPLAY_NAME_MAX:
            errors["display_name"] = f"Name must be 1 to {DISPLAY_NAME_MAX} characters."
        if not PASSWORD_MIN <= len(password or "") <= PASSWORD_MAX:
            errors["password"] = f"Password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters."
        if errors:
            error = InvalidInput("; ".join(errors.values()))
            error.fields = errors
            raise error
        if self.users.by_email(email) is not None:
            raise EmailTaken("An account with this email already exists. Try logging in.")
        user = User(
            email=email,
            display_name=display_name,
            password_hash=self.hasher.hash(password),
            session_token=new_session_token(),
        )
        try:
            self.users.add(user)
            self.session.commit()
        except IntegrityError:  # a concurrent registration won the unique index
            self.session.rollback()
            raise EmailTaken("An account with this email already exists. Try logging in.") from None
        return user

    def authenticate(self, email, password):
        """The user, or None. Unknown email and wrong password take the same path and time."""
        user = self.users.by_email(normalise_email(email))
        stored = user.password_hash if user else _dummy_hash(self.hasher)
        try:
            self.hasher.verify(stored, password or "")
        except (VerificationError, InvalidHashError):
            return None
        if user is None:
            return None
        if self.hasher.check_needs_rehash(user.password_hash):
            user.password_hash = self.hasher.hash(password)
            self.session.commit()
        return user

    def end_sessions(self, user_id):
        """Logout: a new token makes every cookie carrying the old one worthless."""
        user = self.users.get(user_id)
        if user is not None:
            user.session_token = new_session_token()
            self.session.commit()
