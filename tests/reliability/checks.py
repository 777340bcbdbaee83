"""What the failure tests compare: signatures in Redis, in SQL, and the outbox between them."""
import time

from sqlalchemy import select

from app.web import wiring
from app.web.extensions import db
from app.repositories import redis_keys as keys
from app.repositories.models import Signature
from app.repositories.outbox import Outbox


def redis_pairs(client, petition_ids):
    """Every (petition, user) in the signer sets."""
    pipe = client.pipeline(transaction=False)
    for pid in petition_ids:
        pipe.smembers(keys.signers(pid))
    return {(pid, int(uid)) for pid, members in zip(petition_ids, pipe.execute()) for uid in members}


def sql_rows(app):
    """Every (petition, user) row in SQL, as a list so duplicates would show."""
    with app.app_context():
        rows = db.session.execute(select(Signature.petition_id, Signature.user_id)).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def persist_all(app):
    """Runs the real persister until the outbox has nothing left to deliver."""
    with app.app_context():
        handled = wiring.persister(consumer="test-drain").drain()
        db.session.remove()
    return handled


def outbox_lag(app):
    with app.app_context():
        return Outbox(app.extensions["redis"]).lag()


def sign_in_redis(app, pairs):
    """Runs the production signing script for each (petition, user), pipelined for speed; returns
    how many were new. This is the same atomic step a web request runs, without the HTTP cost."""
    return app.extensions["open_store"].sign_many(pairs, time.time())
