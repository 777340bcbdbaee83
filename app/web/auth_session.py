"""Flask-Login wiring: the session carries the user id and a token the users DB must still hold
(read through a short-lived Redis copy, so signed-in requests need no users-DB query)."""
from types import SimpleNamespace

from flask import current_app, flash, redirect, request, url_for
from flask_login import UserMixin, current_user

from app.domain.errors import EmailNotConfirmed
from app.repositories.users_sql import UserRepository
from app.services.signing_tokens import CONFIRM_TO_SIGN
from app.web.extensions import db, login_manager


class CurrentUser(UserMixin):
    def __init__(self, user):
        self.id = user.id
        self.email = user.email
        self.display_name = user.display_name
        self.session_token = user.session_token
        self.email_confirmed = user.email_confirmed
        # For the navigation only: /moderation checks the users DB itself on every request.
        self.is_moderator = user.is_moderator

    def get_id(self):
        return f"{self.id}:{self.session_token}"


def configure_login(app):
    login_manager.init_app(app)
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(session_id):
        user_id, _, token = session_id.partition(":")
        if not user_id.isdigit() or not token:
            return None
        cache = current_app.extensions["user_cache"]
        card = cache.get(int(user_id))
        if card is None:
            user = UserRepository(db.session).get(int(user_id))
            if user is None:
                return None
            card = cache.put(user)
        if card["session_token"] != token:
            return None  # logged out elsewhere: the old cookie is dead
        return CurrentUser(SimpleNamespace(**card))

    @login_manager.unauthorized_handler
    def unauthorized():
        flash("Please log in to continue.", "info")
        target = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("auth.login", next=target))


def require_confirmed_email(message=CONFIRM_TO_SIGN):
    """Refuses (403, with a "send the link again" button) a signed-in user whose email address
    is not confirmed yet."""
    if not current_user.email_confirmed:
        raise EmailNotConfirmed(message)
