"""Registration, sign-in, the server-side session token, and confirming email addresses."""
import functools
import logging
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError

from app.domain.emails import is_disposable, mailbox_of, normalise_address
from app.domain.errors import EmailTaken, InvalidInput, LinkNotValid
from app.domain.petitions import utcnow
from app.repositories.models import User
from app.services.mail import SEND_ERRORS

log = logging.getLogger(__name__)

PASSWORD_MIN, PASSWORD_MAX = 8, 128
DISPLAY_NAME_MAX = 60

# argon2id, time_cost 2, 19 MiB, parallelism 1 (OWASP's minimum recommendation).
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


EMAIL_TAKEN = "An account with this email already exists. Try logging in."
DISPOSABLE = "Addresses at this domain are throwaway mailboxes. Use an address you will keep."
LINK_USED = "This link has been used already. If your address is not confirmed yet, send yourself a new link."
# What confirm() did, for the page that follows the link.
CONFIRMED, ADDRESS_CHANGED, ALREADY_CONFIRMED = "confirmed", "changed", "already"


@functools.cache
def _dummy_hash(hasher):
    """Verified against for unknown emails so both failures cost the same time. Made once per
    hasher: the service is built per request, and hashing there doubled every login's cost."""
    return hasher.hash(secrets.token_hex(16))


def new_session_token():
    return secrets.token_hex(16)


class AccountService:
    def __init__(self, session, users, hasher=HASHER, user_cache=None, links=None, mailer=None, clock=utcnow):
        self.session = session
        self.users = users
        self.hasher = hasher
        self.user_cache = user_cache
        self.links = links  # EmailLinks
        self.mailer = mailer
        self.clock = clock

    def register(self, email, display_name, password):
        email = normalise_address(email)
        display_name = " ".join((display_name or "").split())
        errors = {}
        if (problem := _address_problem(email)) is not None:
            errors["email"] = problem
        if not 1 <= len(display_name) <= DISPLAY_NAME_MAX:
            errors["display_name"] = f"Name must be 1 to {DISPLAY_NAME_MAX} characters."
        if not PASSWORD_MIN <= len(password or "") <= PASSWORD_MAX:
            errors["password"] = f"Password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters."
        if errors:
            raise InvalidInput.from_fields(errors)
        if self.users.by_mailbox(mailbox_of(email)) is not None:
            raise EmailTaken(EMAIL_TAKEN)
        user = User(  # its mailbox is derived from the email (models.User)
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
            raise EmailTaken(EMAIL_TAKEN) from None
        return user

    def authenticate(self, email, password):
        """The user, or None. Unknown email and wrong password take the same path and time."""
        user = self.users.by_mailbox(mailbox_of(email))
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
        if self.user_cache is not None:
            self.user_cache.forget(user_id)  # after the commit, so no refill sees the old token

    def send_confirmation(self, user, link_for):
        """Mails a link confirming the address the account is waiting on (a new address while a
        change is pending). `link_for(token)` makes the absolute URL. False if the mail could
        not be sent: the account stands, and "send the link again" retries."""
        address = user.pending_email or user.email
        link = link_for(self.links.token(user, address))
        body = (
            f"Hello {user.display_name},\n\n"
            f"Confirm that {address} is your email address by opening this link within 24 hours:\n\n{link}\n\n"
            "Until you do, you can browse and write drafts, but not sign or launch petitions.\n\n"
            "If you did not ask for this, ignore this message: nothing happens without the link."
        )
        try:
            self.mailer.send(address, "Confirm your email address", body)
        except SEND_ERRORS:
            log.exception("could not send the confirmation link for user %s", user.id)
            return False
        return True

    def confirm(self, token):
        """Follows a confirmation link: (user, CONFIRMED | ADDRESS_CHANGED | ALREADY_CONFIRMED).
        A link works once, for the address it was sent to; LinkNotValid otherwise."""
        user_id, address, version = self.links.read(token)
        user = self.users.get_locked(user_id)  # two clicks at once: the second waits, then sees it used
        if user is None:
            self.session.rollback()
            raise LinkNotValid("This link is for an account that no longer exists.")
        if version != user.email_link_version:
            outcome = ALREADY_CONFIRMED if user.email_confirmed and address == user.email else None
            self.session.rollback()
            if outcome is None:
                raise LinkNotValid(LINK_USED)
            return user, outcome
        if address == user.pending_email:
            outcome = ADDRESS_CHANGED
            user.email, user.mailbox, user.pending_email = address, mailbox_of(address), None
        elif address == user.email:
            outcome = ALREADY_CONFIRMED if user.email_confirmed else CONFIRMED
        else:
            self.session.rollback()
            raise LinkNotValid(LINK_USED)
        if outcome != ALREADY_CONFIRMED:
            user.email_confirmed_at = self.clock()
        user.email_link_version += 1
        try:
            self.session.commit()
        except IntegrityError:  # the new address became another account's meanwhile
            self.session.rollback()
            raise EmailTaken("That address now belongs to another account, so it was not changed.") from None
        self._refresh_card(user)
        return user, outcome

    def request_email_change(self, user_id, new_email, password):
        """Records `new_email` as pending (confirmed by a link sent to it); `email` changes only
        then. The current password is asked so a borrowed session cannot move the account."""
        user = self.users.get(user_id)
        new_email = normalise_address(new_email)
        if user is None:
            raise InvalidInput("No such account.")
        try:
            self.hasher.verify(user.password_hash, password or "")
        except (VerificationError, InvalidHashError):
            raise InvalidInput.for_field("password", "That is not your current password.") from None
        if (problem := _address_problem(new_email)) is not None:
            raise InvalidInput.for_field("email", problem)
        if mailbox_of(new_email) == user.mailbox:
            raise InvalidInput.for_field("email", "That is already your address.")
        if self.users.by_mailbox(mailbox_of(new_email)) is not None:
            raise InvalidInput.for_field("email", EMAIL_TAKEN)
        user.pending_email = new_email
        user.email_link_version += 1  # links sent before (to any address) stop working
        self.session.commit()
        return user

    def tell_old_address(self, user, old_email):
        """A note to the address being replaced, so a stolen session cannot quietly take over
        the account's mail. Best effort: a failed send is logged."""
        body = (
            f"Hello {user.display_name},\n\nSomeone signed in to your account asked to change its email "
            f"address to {user.pending_email}. It changes only when the link sent there is opened.\n\n"
            "If this was not you, nothing changes unless that link is opened: log in and sign out,\n"
            "which ends your account's session on every device."
        )
        try:
            self.mailer.send(old_email, "Your email address is being changed", body)
        except SEND_ERRORS:
            log.exception("could not tell user %s's old address about the change", user.id)

    def _refresh_card(self, user):
        if self.user_cache is not None:
            self.user_cache.put(user)


def _address_problem(email):
    """Why a normalised address cannot hold an account, or None."""
    if not email or "@" not in email or len(email) > 254:
        return "Enter a valid email address."
    if is_disposable(email):
        return DISPOSABLE
    return None
