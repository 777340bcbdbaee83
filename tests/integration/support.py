"""Builders for integration tests: put users and petitions in place through the services, without
clicking through forms when the form is not what the test is about."""
import functools
from datetime import datetime, timedelta, timezone

from app.web import wiring
from app.web.extensions import db
from app.repositories.models import Petition, User
from app.repositories.petitions_sql import PetitionRepository
from app.services.accounts import HASHER, new_session_token
from app.services.documents import open_document
from tests.helpers import DEFAULT_PASSWORD


@functools.cache
def _password_hash():
    return HASHER.hash(DEFAULT_PASSWORD)


def make_user(app, email, name=None, confirmed=True):
    """A user who can log in with DEFAULT_PASSWORD (hash computed once per run), with the email
    address confirmed unless `confirmed` is False."""
    with app.app_context():
        user = User(
            email=email,
            email_confirmed_at=datetime.now(timezone.utc) if confirmed else None,
            display_name=name or email.split("@")[0].title(),
            password_hash=_password_hash(),
            session_token=new_session_token(),
        )
        db.session.add(user)
        db.session.commit()
        return {"id": user.id, "email": user.email, "display_name": user.display_name, "token": user.session_token}


def login_as(client, user):
    """Signs `client` in as `user` by writing the session Flask-Login reads, skipping the password
    check (for tests about something else that need many signed-in clients)."""
    with client.session_transaction() as session:
        session["_user_id"] = f"{user['id']}:{user['token']}"
        session["_fresh"] = True


class Moderator:
    """Who a service-level moderator action is recorded as, for tests that skip the forms."""

    id, display_name = 99, "Mo"


class _Owner:
    def __init__(self, user):
        self.id, self.display_name = user["id"], user["display_name"]


def make_draft(app, owner, title="Save the local library from closure", body="Libraries matter.", days=30):
    with app.app_context():
        service = wiring.petitions()
        return service.create_draft(_Owner(owner), title, body, days).id


def make_open(app, owner, title="Save the local library from closure", days=30, launched_at=None, **kw):
    """Creates and launches a petition; `launched_at` puts the launch (and deadline) in the past."""
    petition_id = make_draft(app, owner, title, days=days, **kw)
    with app.app_context():
        service = wiring.petitions()
        if launched_at is not None:
            service.clock = lambda: launched_at
        service.launch(petition_id, owner["id"])
    return petition_id


def close_now(app, petition_id, closed_at, final_count):
    """What the close job does to storage: Closed in SQL with the final count, gone from Redis."""
    with app.app_context():
        assert PetitionRepository(db.session).mark_closed(petition_id, closed_at, final_count)
        db.session.commit()
        wiring.open_store().remove_open(petition_id)


def petition_row(app, petition_id):
    with app.app_context():
        petition = db.session.get(Petition, petition_id)
        if petition is None:
            return None
        return {c.name: getattr(petition, c.name) for c in Petition.__table__.columns}


def transient_document(petition_id, title, launched_at, days=30, owner_id=1):
    """An open petition's Redis document without touching SQL (for store-level tests)."""
    petition = Petition(
        id=petition_id,
        owner_id=owner_id,
        owner_name="Olive Owner",
        title=title,
        body="Body text",
        launched_at=launched_at,
        closes_at=launched_at + timedelta(days=days),
    )
    return open_document(petition)
