"""Security test 9: passwords are stored as argon2id with the documented parameters (docs/SECURITY.md:
time_cost 2, 19 MiB, parallelism 1), and a hash made with older parameters is upgraded at login."""
from argon2 import PasswordHasher, Type
from sqlalchemy import select

from app.web.extensions import db
from app.repositories.models import User
from app.services.accounts import HASHER
from tests.helpers import DEFAULT_PASSWORD, login, logout, register

DOCUMENTED_PREFIX = "$argon2id$v=19$m=19456,t=2,p=1$"


def _stored_hash(app, email="ann@example.com"):
    with app.app_context():
        return db.session.scalar(select(User.password_hash).where(User.email == email))


def test_hasher_uses_the_documented_argon2id_parameters():
    assert HASHER.type is Type.ID
    assert (HASHER.time_cost, HASHER.memory_cost, HASHER.parallelism) == (2, 19 * 1024, 1)


def test_registration_stores_argon2id_with_those_parameters(app, client):
    register(client)
    stored = _stored_hash(app)
    assert stored.startswith(DOCUMENTED_PREFIX)
    assert DEFAULT_PASSWORD not in stored
    assert HASHER.verify(stored, DEFAULT_PASSWORD)


def test_an_older_hash_is_upgraded_at_login_and_only_then(app, client):
    register(client)
    logout(client)
    old = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1, type=Type.ID).hash(DEFAULT_PASSWORD)
    with app.app_context():
        db.session.execute(User.__table__.update().values(password_hash=old))
        db.session.commit()

    assert login(client, password="not the password").status_code == 400
    assert _stored_hash(app) == old  # a failed login changes nothing

    assert login(client).status_code == 302
    upgraded = _stored_hash(app)
    assert upgraded != old and upgraded.startswith(DOCUMENTED_PREFIX)
    assert HASHER.verify(upgraded, DEFAULT_PASSWORD)
    logout(client)
    assert login(client).status_code == 302  # the upgraded hash keeps working
